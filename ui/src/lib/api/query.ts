//! Builds a full `EventQuery` (every field is required on the wire type) from the few set.
import type { EventQuery } from "./backend";

export function eventQuery(q: Partial<EventQuery>): EventQuery {
  return {
    beforeId: null,
    afterId: null,
    since: null,
    until: null,
    operation: null,
    result: null,
    idp: null,
    text: null,
    targetId: null,
    limit: null,
    ...q,
  };
}
