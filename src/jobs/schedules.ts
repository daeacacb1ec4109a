/**
 * The modules' crontab lines (`ModuleDescriptor.schedules`, graphile-worker's
 * crontab syntax) parsed for the worker. graphile-worker's crontab grammar
 * takes no `.` in a task name, and ours are `<module>.<verb>`: the parser is
 * given `<module>:<verb>` (task names hold no `:`, checked here) and the
 * items get their real names back.
 */
import { parseCrontab, type ParsedCronItem } from 'graphile-worker';

import type { Schedule } from './task.js';

/** `<module>.<verb>`: letters and digits, one dot. */
export const TASK_NAME = /^[a-z][a-zA-Z0-9]*\.[a-z][a-zA-Z0-9]*$/;

const LINE = /^(\s*(?:\S+\s+){5})(\S+)(.*)$/;

/** The task a crontab line names (its sixth field). */
export function scheduledTask(line: Schedule): string | undefined {
  return LINE.exec(line)?.[2];
}

export function parseSchedules(lines: readonly Schedule[]): ParsedCronItem[] {
  const names = new Map<string, string>();
  const text = lines
    .map((line) => {
      const match = LINE.exec(line);
      const task = match?.[2];
      if (!match || task === undefined || !TASK_NAME.test(task)) throw new Error(`Schedule "${line}": expected five time fields and a task named <module>.<verb>`);
      const parserName = task.replace('.', ':');
      names.set(parserName, task);
      return `${match[1]}${parserName}${match[3] ?? ''}`;
    })
    .join('\n');
  return parseCrontab(text).map((item) => {
    const task = names.get(item.task) ?? item.task;
    // The identifier (the `id` option, else the task name) keys the crontab's bookkeeping: the real name too.
    return { ...item, task, identifier: item.identifier === item.task ? task : item.identifier };
  });
}
