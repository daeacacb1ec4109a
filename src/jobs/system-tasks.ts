/**
 * Tasks of the cross-cutting code (no module declares them): the worker runs
 * them beside the modules' (`ModuleDescriptor.tasks`, src/modules/registry.ts).
 */
import { idempotencySchedules, idempotencyTasks } from '../idempotency/idempotency.tasks.js';
import type { Schedule, TaskDefinition } from './task.js';

export const systemTasks: ReadonlyMap<string, TaskDefinition> = new Map(Object.entries(idempotencyTasks) as [string, TaskDefinition][]);

export const systemSchedules: readonly Schedule[] = [...idempotencySchedules];
