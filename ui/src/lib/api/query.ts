//! Builds a full `EventQuery` (every field is required on the wire type) from the few set.
import type { DirectoryQuery, EventQuery } from "./backend";

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
    simulated: null,
    limit: null,
    ...q,
  };
}

/** Builds a full `DirectoryQuery` from the few fields set. */
export function directoryQuery(q: Partial<DirectoryQuery>): DirectoryQuery {
  return {
    text: null,
    access: null,
    sort: null,
    descending: false,
    offset: 0,
    limit: 50,
    ...q,
  };
}
