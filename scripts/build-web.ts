// Builds the dashboard ahead of first use: `npm install` runs this (the `prepare` script); `pulse up` and `pulse serve` would build it otherwise.
import { ensureWebBuild } from "../src/app/web-build.ts";

process.stdout.write(`pulse: dashboard built in ${await ensureWebBuild()}\n`);
