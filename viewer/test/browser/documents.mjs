// Which suite sends which of src/queries.ts's documents: the fleet's (Agents and group pages, the operator's
// sign-in probe and actions) are sent by fleet.mjs against its fleet fixture; run.mjs checks that it sent every
// other one. Each suite checks that what it sent was answered with data.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FLEET_DOCUMENTS = ['Agents', 'AgentsLive', 'Jobs', 'JobsLive', 'AgentRuns', 'Group', 'GroupPercentiles', 'GroupJobsLive', 'OperatorProbe', 'LaunchJobs', 'StopJobs'];

/** Every operation name declared in src/queries.ts, with its document's text. */
export function declaredDocuments() {
  const source = readFileSync(join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'src', 'queries.ts'), 'utf8');
  return new Map([...source.matchAll(/`(query|subscription|mutation) (\w+)([\s\S]*?)`/g)].map((m) => [m[2], m[3]]));
}
