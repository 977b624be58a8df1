// Builds the assetlog binary once for all browser tests, so the dashboard it embeds is the one in
// web/src (cargo's build script rebuilds it when the sources changed), and checks for Chromium.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

const repo = resolve(import.meta.dirname, '../..');

export default function setup(project: TestProject) {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    throw new Error(`The browser tests need Chromium at ${chromium} (Debian: apt-get install -y chromium), or CHROMIUM_PATH.`);
  }
  let bin = process.env.ASSETLOG_BIN;
  if (!bin) {
    execFileSync('cargo', ['build', '--quiet', '-p', 'assetlog-server', '--bin', 'assetlog'], { cwd: repo, stdio: 'inherit' });
    const target = process.env.CARGO_TARGET_DIR ? resolve(repo, process.env.CARGO_TARGET_DIR) : resolve(repo, 'target');
    bin = resolve(target, 'debug/assetlog');
  }
  if (!existsSync(bin)) throw new Error(`no assetlog binary at ${bin}`);
  project.provide('assetlogBin', bin);
  project.provide('chromiumPath', chromium);
}

declare module 'vitest' {
  export interface ProvidedContext {
    assetlogBin: string;
    chromiumPath: string;
  }
}
