// bigquery:// URLs: project, dataset (monitoring_datalake by default) and location, and the errors for bad ones.

import { describe, expect, it } from "vitest";
import { ConfigError } from "../../errors.ts";
import { parseBigQueryUrl } from "./url.ts";

describe("parseBigQueryUrl", () => {
  it("reads the project, the dataset and the location", () => {
    expect(parseBigQueryUrl("bigquery://my-project/analytics?location=EU")).toEqual({
      projectId: "my-project",
      dataset: "analytics",
      location: "EU",
    });
    expect(parseBigQueryUrl("bigquery://my-project/Raw_2?location=europe-west1")).toEqual({
      projectId: "my-project",
      dataset: "Raw_2",
      location: "europe-west1",
    });
  });

  it("defaults the dataset to monitoring_datalake and leaves the location to BigQuery", () => {
    expect(parseBigQueryUrl("bigquery://my-project")).toEqual({
      projectId: "my-project",
      dataset: "monitoring_datalake",
    });
    expect(parseBigQueryUrl("bigquery://my-project/")).toEqual({
      projectId: "my-project",
      dataset: "monitoring_datalake",
    });
  });

  it("accepts a domain-scoped project id", () => {
    expect(parseBigQueryUrl("bigquery://example.com:my-project/d").projectId).toBe("example.com:my-project");
  });

  it("refuses what is not a project, a dataset or a known setting, naming it", () => {
    const cases: [string, string][] = [
      ["bigquery://", "the project is missing"],
      ["bigquery:///dataset", "the project is missing"],
      ["bigquery://My_Project/d", "'My_Project' is not a project id"],
      ["bigquery://p-1/bad-dataset", "'bad-dataset' is not a dataset name"],
      ["bigquery://p-1/d/extra", "has more than a project and a dataset"],
      ["bigquery://p-1/d?region=EU", "'region' is not a setting of the URL"],
      ["bigquery://p-1/d?location=E U", "'E U' is not a location"],
      ["postgres://p-1/d", "not a bigquery:// URL"],
    ];
    for (const [url, words] of cases) {
      expect(() => parseBigQueryUrl(url), url).toThrow(ConfigError);
      expect(() => parseBigQueryUrl(url), url).toThrow(words);
    }
  });
});
