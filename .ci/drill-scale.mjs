// `npm run drill:scale`: the full scale drill (.ci/drill.mjs, 120 s of load)
// inside the container check, on Docker when an engine answers, else on
// podman through .ci/podman.sh (as root on Debian, like CI). Extra arguments
// go to the check, e.g. `npm run drill:scale -- --drill-seconds 60`.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const check = ['node', '.ci/container-check.mjs', '--drill-seconds', '120', ...args];
const docker = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
const command = docker ? check : ['.ci/podman.sh', ...check];
const result = spawnSync(command[0], command.slice(1), { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
