// Types of bin/bundle.js, for the TypeScript that imports it (bench/run.ts, tests).
export declare const ROOT: string;
export declare function ensureBundle(entry: string, name: string, root?: string): Promise<string>;
