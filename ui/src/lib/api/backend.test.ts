import { describe, expect, it } from "vitest";
import { BackendError, toBackendError } from "./backend";
import { eventQuery } from "./query";

describe("toBackendError", () => {
  it("keeps the shell's stable code, which the UI branches on", () => {
    const e = toBackendError({ code: "notFound", message: "no token tok_1" });
    expect(e).toBeInstanceOf(BackendError);
    expect(e.code).toBe("notFound");
    expect(e.message).toBe("no token tok_1");
  });
  it("wraps anything else as internal", () => {
    expect(toBackendError("boom").code).toBe("internal");
    expect(toBackendError(undefined).message).toBe("The app did not answer.");
  });
});

describe("eventQuery", () => {
  it("fills every field the wire type requires", () => {
    const q = eventQuery({ limit: 50 });
    expect(q.limit).toBe(50);
    expect(q.beforeId).toBeNull();
    expect(Object.keys(q)).toHaveLength(11);
  });
});
