//! Settings checks the form runs before saving; the shell checks again.
import type { Settings } from "../../lib/api/backend";

export function validateSettings(s: Settings): Partial<Record<keyof Settings, string>> {
  const errors: Partial<Record<keyof Settings, string>> = {};
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
    errors.port = "Use a port from 1 to 65535.";
  }
  if (
    !Number.isInteger(s.logRetentionDays) ||
    s.logRetentionDays < 1 ||
    s.logRetentionDays > 3650
  ) {
    errors.logRetentionDays = "Keep events for 1 to 3650 days.";
  }
  return errors;
}
