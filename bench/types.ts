// The shape every benchmark reports, so bench/run.ts can print and compare them.
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  detail?: string;
}
