// `pulse up --duration`: a run that goes on past its deadline, finishing the batch in flight, says so.

import { afterEach, describe, expect, it, vi } from "vitest";
import { announceFinishing } from "./up.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("announceFinishing", () => {
  it("says the run is finishing the batch in flight when it goes on a second past --duration", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const deadline = new AbortController();
    const said: string[] = [];
    const finishing = announceFinishing(deadline.signal, new AbortController().signal, 30, (m) =>
      said.push(m),
    );
    vi.advanceTimersByTime(5000);
    expect(said).toEqual([]);
    deadline.abort();
    vi.advanceTimersByTime(999);
    expect(said).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(said).toEqual([
      "pulse up: --duration 30s reached; finishing the batch in flight (it commits before the exit)",
    ]);
    finishing.dispose();
  });

  it("says nothing when the run stops within a second, and names Ctrl-C as stopping", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const said: string[] = [];
    const quick = new AbortController();
    const first = announceFinishing(quick.signal, new AbortController().signal, 30, (m) => said.push(m));
    quick.abort();
    vi.advanceTimersByTime(500);
    first.dispose();
    vi.advanceTimersByTime(5000);
    expect(said).toEqual([]);
    const user = new AbortController();
    const second = announceFinishing(user.signal, user.signal, undefined, (m) => said.push(m));
    user.abort();
    vi.advanceTimersByTime(1000);
    second.dispose();
    expect(said).toEqual(["pulse up: stopping; finishing the batch in flight (it commits before the exit)"]);
  });
});
