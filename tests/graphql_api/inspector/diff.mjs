// graphql-inspector's verdict on schema change pairs: reads [{name, old, new}] (SDL strings) as
// JSON on stdin, prints {name: [[change type, criticality level], ...]} as JSON on stdout.
import { diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const verdicts = {};
for (const { name, old, new: changed } of JSON.parse(input)) {
  const changes = await diff(buildSchema(old), buildSchema(changed));
  verdicts[name] = changes.map((c) => [c.type, c.criticality.level]);
}
process.stdout.write(JSON.stringify(verdicts, null, 2) + '\n');
