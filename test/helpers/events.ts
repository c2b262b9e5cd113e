// Sample events for tests: one UserActivity v2 purchase with every field set.
import type { UserActivityV2 } from "../../src/contracts/types.ts";

/** A purchase with every v2 field set; spread it and change what a test needs. */
export const SAMPLE_PURCHASE: Readonly<UserActivityV2> = Object.freeze({
  event_id: "0b9a3c8e-6f1d-4c2a-9b7e-000000000001",
  user_id: "user-1",
  session_id: "s-1",
  event_type: "PURCHASE",
  event_time: 1_704_067_200_123,
  page: "/checkout",
  referrer: "https://www.example.com/",
  device: "TABLET",
  country: "NL",
  amount: 12.5,
  currency: "EUR",
  app_version: "2.1.0",
});
