/**
 * The Kubernetes manifests of deploy/k8s, checked offline: every document
 * against the Kubernetes API schemas that the npm package kubernetes-models
 * ships (its validate(), plus a walk that refuses fields the schema does not
 * know, as the API server's strict field validation does), every environment
 * variable against docs/reference/configuration.md, and the properties
 * docs/operations/production.md promises (secrets as files, non-root,
 * read-only root filesystem, probes on the health endpoints, ...).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';

import { projectRoot } from '../../src/util/project-root.js';

const root = projectRoot();
const K8S = path.join(root, 'deploy/k8s');
const COMPONENT = 'database-routing';
/** What the database-routing component adds to the API: transaction pooling and replica reads. */
const ROUTING_VARIABLES = ['DATABASE_POOLER', 'DATABASE_DIRECT_URL_FILE', 'READ_DATABASE_URL_FILE', 'READ_REPLICA_MAX_LAG'];
/** Variables that hold secrets: only their `_FILE` forms may appear. */
const SECRET_VARIABLES = ['DATABASE_URL', 'DATABASE_DIRECT_URL', 'READ_DATABASE_URL', 'WORKER_DATABASE_URL', 'JWT_SIGNING_KEYS', 'REDIS_URL', 'METRICS_TOKEN', 'PAYMENT_WEBHOOK_SECRET'];

type Json = Record<string, unknown>;
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Json;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[] } };
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  lifecycle?: { preStop?: unknown };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  automountServiceAccountToken?: boolean;
  topologySpreadConstraints?: unknown[];
  volumes?: { name: string; projected?: { sources: { secret?: { name: string; items: { key: string; path: string }[] } }[] } }[];
}
interface Workload extends Manifest {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}

/** A model class of kubernetes-models: construct, then validate() throws on a schema violation. */
type ModelClass = new (data?: object) => object & { validate(): void };
const MODELS: Record<string, ModelClass> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'batch/v1 Job': Job,
  'networking.k8s.io/v1 NetworkPolicy': NetworkPolicy,
};

/**
 * Validates one document; returns the problems: schema violations, and fields
 * the schema does not know. The latter are found by watching which fields the
 * compiled schema reads: it reads every field it declares (and every key of a
 * free-form map), so a field it never read is not part of the API.
 */
function problemsOf(manifest: Json): string[] {
  const type = `${String(manifest['apiVersion'])} ${String(manifest['kind'])}`;
  const Model = MODELS[type];
  if (!Model) return [`no schema for ${type}`];
  const present = new Set<string>();
  const read = new Set<string>();
  const watch = (value: unknown, at: string): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (!Array.isArray(value)) for (const key of Object.keys(value)) present.add(`${at}/${key}`);
    return new Proxy(value, {
      get(target, property, receiver) {
        const field: unknown = Reflect.get(target, property, receiver);
        if (typeof property !== 'string' || !Object.prototype.hasOwnProperty.call(target, property)) return field;
        read.add(`${at}/${property}`);
        return watch(field, `${at}/${property}`);
      },
    });
  };
  const known = ['apiVersion', 'kind', 'metadata', 'spec'];
  const problems = Object.keys(manifest).filter((key) => !known.includes(key)).map((key) => `/${key}: not a field of ${type}`);
  // The model copies what it is given deeply; the watched fields are set afterwards so that validate() reads through them.
  const model = new Model({}) as Record<string, unknown> & { validate(): void };
  for (const key of known) if (key in manifest) model[key] = watch(manifest[key], `/${key}`);
  try {
    model.validate();
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  for (const field of present) if (!read.has(field)) problems.push(`${field}: not a field of ${type}`);
  return problems;
}

function readYaml(file: string): unknown {
  return parse(readFileSync(path.join(K8S, file), 'utf8'));
}

const kustomization = readYaml('kustomization.yaml') as { resources: string[]; components?: string[] };
const manifestFiles = readdirSync(K8S).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');
const documents: { file: string; manifest: Manifest }[] = manifestFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(K8S, file), 'utf8')).map((doc) => ({ file, manifest: doc.toJSON() as Manifest })),
);
const byKind = (kind: string) => documents.filter((d) => d.manifest.kind === kind).map((d) => d.manifest);
const workloads = [...byKind('Deployment'), ...byKind('Job')] as Workload[];
const workload = (name: string) => workloads.find((w) => w.metadata.name === name) as Workload;
const apiDeployment = workload('marketplace-api');
const apiContainer = apiDeployment.spec.template.spec.containers[0] as Container;

/** A JSON patch's `add` operations (what the component uses), applied to a copy. */
function applyAdds(target: unknown, operations: { op: string; path: string; value: unknown }[]): unknown {
  const copy = structuredClone(target) as Json;
  for (const { op, path: pointer, value } of operations) {
    if (op !== 'add') throw new Error(`unsupported op ${op}`);
    const parts = pointer.split('/').slice(1);
    const last = parts.pop() as string;
    const parent = parts.reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], copy) as Record<string, unknown> | unknown[];
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(value);
      else parent.splice(Number(last), 0, value);
    } else parent[last] = value;
  }
  return copy;
}
type PatchOps = { op: string; path: string; value: unknown }[];
const routedApi = applyAdds(apiDeployment, readYaml(`${COMPONENT}/api-patch.yaml`) as PatchOps) as Workload;
const routedWorker = applyAdds(workload('marketplace-worker'), readYaml(`${COMPONENT}/worker-patch.yaml`) as PatchOps) as Workload;

/** The variables docs/reference/configuration.md documents: its table rows and the `_FILE` forms its rows name. */
function documentedVariables(): Set<string> {
  const text = readFileSync(path.join(root, 'docs/reference/configuration.md'), 'utf8');
  return new Set([...text.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm), ...text.matchAll(/Or `([A-Z][A-Z0-9_]*_FILE)`, naming a file/g)].map((m) => m[1] as string));
}

function envNames(w: Workload): string[] {
  return w.spec.template.spec.containers.flatMap((c) => (c.env ?? []).map((e) => e.name));
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('kustomization.yaml applies every manifest file there is', () => {
    expect([...kustomization.resources].sort()).toEqual([...manifestFiles].sort());
  });

  it.each(documents.map((d) => [`${d.file}: ${d.manifest.kind} ${d.manifest.metadata.name}`, d.manifest]))('%s validates against the Kubernetes API schema', (_name, manifest) => {
    expect(problemsOf(manifest as unknown as Json)).toEqual([]);
  });

  it('the validation refuses a wrong type, a missing required field and an unknown field', () => {
    const broken = structuredClone(apiDeployment) as unknown as Json & { spec: Json };
    const containers = (broken.spec['template'] as { spec: { containers: Json[] } }).spec.containers;
    (containers[0] as Json)['resources'] = { limits: { cpu: 'lots' } };
    (containers[0] as Json)['imagePullPolicyy'] = 'Always';
    delete broken.spec['selector'];
    const problems = problemsOf(broken).join('\n');
    expect(problems).toMatch(/limits\/cpu/);
    expect(problems).toMatch(/selector/);
    expect(problems).toMatch(/imagePullPolicyy: not a field/);
    expect(problemsOf({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: {}, stauts: {} })).toEqual(
      expect.arrayContaining(['/stauts: not a field of apps/v1 Deployment']),
    );
    expect(problemsOf({ apiVersion: 'v1', kind: 'Pod' })).toEqual(['no schema for v1 Pod']);
  });

  it('with the database-routing component, the API and worker Deployments still validate', () => {
    expect(problemsOf(routedApi as unknown as Json)).toEqual([]);
    expect(problemsOf(routedWorker as unknown as Json)).toEqual([]);
  });

  it('the database-routing component puts the worker behind the pooler with its direct connection', () => {
    const added = envNames(routedWorker).filter((name) => !envNames(workload('marketplace-worker')).includes(name));
    expect(added.sort()).toEqual(['DATABASE_DIRECT_URL_FILE', 'DATABASE_POOLER']);
    const env = Object.fromEntries((routedWorker.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env['DATABASE_DIRECT_URL_FILE']).toBe(env['WORKER_DATABASE_URL_FILE']);
  });

  it('sets only environment variables that docs/reference/configuration.md documents', () => {
    const documented = documentedVariables();
    const undocumented = workloads.flatMap((w) => envNames(w).filter((name) => !documented.has(name)).map((name) => `${w.metadata.name}: ${name}`));
    expect(undocumented).toEqual([]);
  });

  it('the database-routing component adds the pooling and replica variables, each documented', () => {
    const documented = documentedVariables();
    const added = envNames(routedApi).filter((name) => !envNames(apiDeployment).includes(name));
    expect([...added].sort()).toEqual([...ROUTING_VARIABLES].sort());
    expect(added.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('passes every secret as a file of the mounted Secret, never as a value', () => {
    for (const w of [...workloads, routedApi, routedWorker]) {
      const pod = w.spec.template.spec;
      const secretFiles = new Map<string, Set<string>>();
      for (const volume of pod.volumes ?? []) {
        const items = (volume.projected?.sources ?? []).flatMap((source) => source.secret?.items ?? []);
        secretFiles.set(volume.name, new Set(items.map((item) => item.path)));
      }
      for (const container of pod.containers) {
        const names = (container.env ?? []).map((e) => e.name);
        expect(names.filter((name) => SECRET_VARIABLES.includes(name))).toEqual([]);
        for (const { name, value } of container.env ?? []) {
          expect(`${name}=${value ?? ''}`).not.toMatch(/:\/\/[^/\s]*:[^@\s]*@/); // no credentials in a URL
          if (!name.endsWith('_FILE')) continue;
          const mount = (container.volumeMounts ?? []).find((m) => value?.startsWith(`${m.mountPath}/`));
          expect(`${w.metadata.name} ${name}: ${mount ? 'mounted' : 'not under a mount'}`).toBe(`${w.metadata.name} ${name}: mounted`);
          const file = value?.slice((mount?.mountPath.length ?? 0) + 1) ?? '';
          expect(`${w.metadata.name} ${name}: ${secretFiles.get(mount?.name ?? '')?.has(file) ? 'a Secret item' : file}`).toBe(`${w.metadata.name} ${name}: a Secret item`);
        }
      }
    }
  });

  it('runs every container as non-root with a read-only root filesystem, no capabilities, requests and limits', () => {
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      expect({ name: w.metadata.name, runAsNonRoot: pod.securityContext?.runAsNonRoot, automount: pod.automountServiceAccountToken }).toEqual({
        name: w.metadata.name,
        runAsNonRoot: true,
        automount: false,
      });
      expect(pod.securityContext?.runAsUser).toBe(1000);
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
        expect(Object.keys(c.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
        expect(c.image).toBe('marketplace-api');
      }
    }
  });

  it('runs two API replicas with probes on the health endpoints, a preStop pause and spread placement, enqueuing only', () => {
    expect(apiDeployment.spec.replicas).toBe(2);
    expect(apiContainer.readinessProbe?.httpGet?.path).toBe('/health/ready');
    expect(apiContainer.livenessProbe?.httpGet?.path).toBe('/health/live');
    expect(apiContainer.lifecycle?.preStop).toBeDefined();
    expect(apiDeployment.spec.template.spec.topologySpreadConstraints?.length).toBeGreaterThan(0);
    expect(apiContainer.env).toEqual(expect.arrayContaining([{ name: 'WORKER', value: 'off' }, { name: 'MIGRATE_ON_START', value: 'false' }]));
  });

  it('runs the worker with the command of `npm run start:worker`, and migrations as a Job', () => {
    const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(`exec ${workload('marketplace-worker').spec.template.spec.containers[0]?.command?.join(' ')}`).toBe(scripts['start:worker']);
    expect(envNames(workload('marketplace-worker'))).not.toContain('WORKER');
    expect(workload('marketplace-migrate').spec.template.spec.containers[0]?.command).toEqual(['node', 'dist/src/db/cli.js', 'migrate']);
  });

  it('points the Service, the autoscaler, the disruption budget and a network policy at the API pods', () => {
    const podLabels = apiDeployment.spec.template.metadata.labels;
    const matches = (selector: Record<string, string> | undefined) => Object.entries(selector ?? {}).every(([key, value]) => podLabels[key] === value);
    const [service] = byKind('Service');
    const [hpa] = byKind('HorizontalPodAutoscaler');
    const [pdb] = byKind('PodDisruptionBudget');
    expect(matches(service?.spec['selector'] as Record<string, string>)).toBe(true);
    expect(hpa?.spec['scaleTargetRef']).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'marketplace-api' });
    expect(hpa?.spec['minReplicas']).toBe(2);
    expect(matches((pdb?.spec['selector'] as { matchLabels: Record<string, string> }).matchLabels)).toBe(true);
    for (const w of workloads) {
      const labels = w.spec.template.metadata.labels;
      const covered = byKind('NetworkPolicy').some((policy) =>
        Object.entries((policy.spec['podSelector'] as { matchLabels: Record<string, string> }).matchLabels).every(([key, value]) => labels[key] === value),
      );
      expect(`${w.metadata.name}: ${covered ? 'covered' : 'no network policy'}`).toBe(`${w.metadata.name}: covered`);
    }
  });
});
