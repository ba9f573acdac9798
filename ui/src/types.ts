/** Shapes of the server's JSON answers (see /api/v1/openapi.json). */

export type Health = "up" | "degraded" | "down" | "unknown";

export interface TwinSummary {
  version: number;
  entities: number;
  relations: number;
  by_kind: Record<string, number>;
}

export interface MapNode {
  key: string;
  kind: string;
  name: string;
  parent: string | null;
  health: Health;
  labels: Record<string, string>;
}

export interface MapEdge {
  from: string;
  to: string;
  type: string;
  rate_rps: number | null;
}

export interface MapData {
  version: number;
  nodes: MapNode[];
  edges: MapEdge[];
}

export interface EntitySummary {
  key: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
  summary: string;
}

export interface EntityList {
  total: number;
  entities: EntitySummary[];
}

export interface SeriesInfo {
  attribute: string;
  points: number;
  from_ms: number;
  to_ms: number;
}

export interface Entity {
  key: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
  out: { type: string; to: string; attrs: Record<string, unknown> }[];
  in: { type: string; from: string; attrs: Record<string, unknown> }[];
  series: SeriesInfo[];
  health: Health;
  /** Why current telemetry says it is degraded, one line per reason. */
  health_why?: string[];
}

export interface Series {
  entity: string;
  attribute: string;
  points: [number, number][];
}

export interface Forecast {
  entity: string;
  attribute: string;
  unit: string | null;
  history: [number, number][];
  forecast: [number, number, number, number][];
  level: number;
  model: string;
  /** The entity's limit for this series (a disk's size), if it has one. */
  limit?: { value: number; resource?: string } | null;
  /** When the forecast crosses the limit, with its interval. */
  crossing?: { at_ms: number; earliest_ms: number | null; latest_ms: number | null } | null;
}

export interface Span {
  from_s: number;
  to_s: number;
  state: string;
  error_rate: number;
  latency_ms: number | null;
  cause: string[];
}

export interface WhatIfEntry {
  service: string;
  endpoint: string;
  rate_rps: number;
  slo_availability_pct: number | null;
  before: string;
  worst: string;
  timeline: Span[];
  error_budget_used_pct: number | null;
  recovered_at_s: number | null;
}

export interface WhatIfStation {
  key: string;
  kind: string;
  worst: string;
  peak_utilisation: number | null;
  timeline: Span[];
}

export interface WhatIfReport {
  scenario: string;
  load: string;
  faults: string[];
  horizon_s: number;
  entries: WhatIfEntry[];
  stations: WhatIfStation[];
  events: { t_s: number; what: string }[];
  pending: { workload: string; since_s: number; reason: string }[];
  shortfall: { pods: number; cores: number; memory_gib: number } | null;
  recovered_at_s: number | null;
  unaffected: boolean;
  notes: string[];
}

export interface SpofSingle {
  component: string;
  class: string;
  entries_down: string[];
  entries_degraded: string[];
  components_down: number;
  rps_down: number;
  rps_degraded: number;
  impact: number;
  simulated: { worst: string; worst_budget_pct: number | null; cause: string[]; recovered_at_s: number | null } | null;
}

export interface SpofReport {
  load: string;
  components: number;
  entries: number;
  swept: number;
  singles: SpofSingle[];
  spofs: { component: string; class: string; entries: string[]; why: string[] }[];
  gaps: { kind: string; subject: string; detail: string; entries: string[] }[];
  notes: string[];
}

export interface Curve {
  entry: string;
  slo_ms: number | null;
  points: [number, number, number][];
  saturation: number | null;
}

export interface Curves {
  entries: Curve[];
}

export interface HistoryItem {
  version: number;
  time_ms: number;
  source: string;
  author: string;
  summary: string;
  entities: { added: number; updated: number; removed: number };
  relations: { added: number; updated: number; removed: number };
}

export interface Risk {
  at_ms: number;
  interval_ms: [number, number | null] | null;
  kind: string;
  subject: string;
  what: string;
  fix: string | { checked?: boolean; [k: string]: unknown } | null;
  /** The fix as data (an SLO breach): replicas `[workload, now, needed]`, price, whether checked on a fork. */
  remedy?: { replicas: [string, number, number][]; usd_per_hour: number | null; checked: boolean } | null;
}

export interface Predictions {
  horizon_ms: number;
  level: number;
  risks: Risk[];
}

export interface Job {
  id: number;
  analysis: string;
  state: "running" | "done" | "failed" | "cancelled";
  done: number;
  total: number;
  stage: string;
  started_ms: number;
  result: unknown;
  error: { status: number; code: string; message: string; where: string | null } | null;
}
