#!/usr/bin/env node
// Generates ops/grafana/dashboards/*.json, the dashboards docker-compose.yml's Grafana provisions.
//   node ops/grafana/build-dashboards.mjs           write the JSON files
//   node ops/grafana/build-dashboards.mjs --check   exit 1 when a committed file differs from what this script makes
// Written as code so every panel has the same complete options (which the schema check in
// tests/Fulfillment.Ops.Tests/Monitoring types strictly) and every query is written once. Only metrics the workers
// declare may appear (the tests grep the source tree); ops/grafana/README.md lists them.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ds = { type: 'prometheus', uid: 'prometheus' }; // provisioning/datasources/prometheus.yml
const rate = '$__rate_interval';

// ---- panel builders -------------------------------------------------------------------------------------------------
let nextId = 1;
let cursor = { x: 0, y: 0, rowHeight: 0 };

function place(w, h) {
  if (cursor.x + w > 24) {
    cursor = { x: 0, y: cursor.y + cursor.rowHeight, rowHeight: 0 };
  }
  const pos = { h, w, x: cursor.x, y: cursor.y };
  cursor.x += w;
  cursor.rowHeight = Math.max(cursor.rowHeight, h);
  return pos;
}

function row(title) {
  cursor = { x: 0, y: cursor.y + cursor.rowHeight, rowHeight: 0 };
  const panel = { type: 'row', id: nextId++, title, collapsed: false, gridPos: place(24, 1), panels: [] };
  cursor = { x: 0, y: cursor.y + 1, rowHeight: 0 };
  return panel;
}

/** targets: [expr, legend] pairs. */
function targets(list) {
  return list.map(([expr, legendFormat], i) => ({
    datasource: ds,
    refId: String.fromCharCode(65 + i),
    expr,
    legendFormat,
    range: true,
  }));
}

function thresholds(steps) {
  return {
    mode: 'absolute',
    steps: steps.map(([value, color]) => ({ value, color })),
  };
}

/** A time series panel. opts: w, h, unit, stack, description, threshold (a red line at that value), min. */
function ts(title, list, opts = {}) {
  const custom = {
    drawStyle: 'line',
    lineInterpolation: 'smooth',
    lineWidth: 1,
    fillOpacity: opts.stack ? 60 : 10,
    gradientMode: 'none',
    showPoints: 'never',
    pointSize: 4,
    spanNulls: false,
    axisPlacement: 'auto',
    axisLabel: '',
    axisSoftMin: 0,
    stacking: { mode: opts.stack ? 'normal' : 'none', group: 'A' },
    thresholdsStyle: { mode: opts.threshold !== undefined ? 'line+area' : 'off' },
  };
  return {
    type: 'timeseries',
    id: nextId++,
    title,
    description: opts.description ?? '',
    datasource: ds,
    gridPos: place(opts.w ?? 12, opts.h ?? 8),
    fieldConfig: {
      defaults: {
        unit: opts.unit ?? 'short',
        min: opts.min ?? 0,
        color: { mode: 'palette-classic' },
        custom,
        thresholds: opts.threshold !== undefined
          ? thresholds([[null, 'transparent'], [opts.threshold, 'red']])
          : thresholds([[null, 'green']]),
      },
      overrides: [],
    },
    options: {
      legend: { calcs: opts.calcs ?? ['mean', 'max'], displayMode: 'table', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: targets(list),
  };
}

/** A single-value panel. opts: w, h, unit, steps ([[value, color], ...]), description, decimals. */
function stat(title, expr, opts = {}) {
  return {
    type: 'stat',
    id: nextId++,
    title,
    description: opts.description ?? '',
    datasource: ds,
    gridPos: place(opts.w ?? 4, opts.h ?? 4),
    fieldConfig: {
      defaults: {
        unit: opts.unit ?? 'short',
        decimals: opts.decimals,
        color: { mode: 'thresholds' },
        thresholds: thresholds(opts.steps ?? [[null, 'green']]),
      },
      overrides: [],
    },
    options: {
      reduceOptions: { values: false, calcs: ['lastNotNull'], fields: '' },
      orientation: 'auto',
      colorMode: 'value',
      graphMode: 'area',
      justifyMode: 'auto',
      textMode: 'auto',
      percentChangeColorMode: 'standard',
      showPercentChange: false,
      wideLayout: true,
    },
    targets: targets([[expr, title]]),
  };
}

function dashboard(uid, title, description, build) {
  nextId = 1;
  cursor = { x: 0, y: 0, rowHeight: 0 };
  const panels = build();
  return {
    uid,
    title,
    description,
    tags: ['fulfillment'],
    editable: false,
    graphTooltip: 1,
    refresh: '10s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-30m', to: 'now' },
    timezone: 'utc',
    links: [{ title: 'Fulfillment.Streams', type: 'dashboards', tags: ['fulfillment'], asDropdown: true, icon: 'external link', includeVars: false, keepTime: true, targetBlank: false, tooltip: '', url: '' }],
    annotations: { list: [] },
    templating: { list: [] },
    panels,
  };
}

// ---- queries used more than once -------------------------------------------------------------------------------------
const q = {
  quantile: (p, metric, by = '', selector = '') =>
    `histogram_quantile(${p}, sum by (le${by ? ', ' + by : ''}) (rate(${metric}_bucket${selector}[${rate}])))`,
  deliveries: (outcome, by = 'channel') =>
    `sum${by ? ` by (${by}) ` : ''}(rate(fulfillment_connector_deliveries_total${outcome ? `{outcome="${outcome}"}` : ''}[${rate}]))`,
  pushes: (outcome, by) =>
    `sum by (${by}) (rate(fulfillment_channel_sync_push_attempts_total${outcome ? `{outcome=~"${outcome}"}` : ''}[${rate}]))`,
};
const freshnessSlo = 0.5; // seconds, p99 (the project's freshness target; the alert in ops/prometheus/rules uses the same)

// ---- the dashboards ------------------------------------------------------------------------------------------------
const dashboards = {
  overview: dashboard('fulfillment-overview', 'Fulfillment · Overview',
    'Is the hub up, is work flowing, is it fresh, is anything failing. Drill down through the dashboard links.', () => [
      row('Health'),
      stat('Targets up', 'sum(up)', { steps: [[null, 'red'], [1, 'green']], description: 'Scrape targets answering /metrics.' }),
      stat('Targets down', 'count(up == 0) or vector(0)', { steps: [[null, 'green'], [1, 'red']], description: 'A worker, the registry or Prometheus not answering its scrape.' }),
      stat('Webhooks accepted /s', q.deliveries('accepted', '') , { unit: 'reqps', decimals: 1 }),
      stat('Processor freshness p99', q.quantile(0.99, 'fulfillment_runtime_event_age_at_output_seconds'), {
        unit: 's', steps: [[null, 'green'], [freshnessSlo, 'red']], description: 'Age of an input record when the inventory processor forwards its output (SLO 500 ms).',
      }),
      stat('Consumer lag', 'sum(fulfillment_runtime_consumer_lag_records) or vector(0)', { unit: 'short', steps: [[null, 'green'], [1000, 'orange'], [10000, 'red']] }),
      stat('Dead letters (1 h)', `sum(increase(fulfillment_runtime_dead_letters_total[1h])) or vector(0)`, { steps: [[null, 'green'], [1, 'red']], description: 'Records the processors dead-lettered in the last hour.' }),
      stat('Views freshness p99', q.quantile(0.99, 'fulfillment_views_sink_stock_freshness_seconds'), {
        w: 12, unit: 's', steps: [[null, 'green'], [freshnessSlo, 'red']], description: 'Age of a stock-level change when its row commits in the Postgres views, from its input reaching Kafka (SLO 500 ms).',
      }),
      stat('Views sink lag', 'sum(fulfillment_views_sink_consumer_lag_records) or vector(0)', { w: 12, unit: 'short', steps: [[null, 'green'], [1000, 'orange'], [10000, 'red']] }),
      row('Flow'),
      ts('Pipeline throughput', [
        [q.deliveries('accepted', ''), 'webhooks accepted'],
        ['sum(rate(fulfillment_connector_events_produced_total[' + rate + ']))', 'connector events produced'],
        ['sum(rate(fulfillment_runtime_records_in_total[' + rate + ']))', 'processor records in'],
        ['sum(rate(fulfillment_runtime_records_out_total[' + rate + ']))', 'processor records out'],
        ['sum(rate(fulfillment_views_sink_records_total[' + rate + ']))', 'views sink records'],
        ['sum(rate(fulfillment_channel_sync_push_attempts_total[' + rate + ']))', 'channel push attempts'],
      ], { unit: 'ops', description: 'Records per second at each stage: webhook → connector → processor → views / channel push.' }),
      ts('Latency (p99)', [
        [q.quantile(0.99, 'fulfillment_connector_ack_duration_seconds'), 'webhook ack'],
        [q.quantile(0.99, 'fulfillment_runtime_event_age_at_output_seconds'), 'processor freshness'],
        [q.quantile(0.99, 'fulfillment_runtime_commit_duration_seconds'), 'processor commit'],
        [q.quantile(0.99, 'fulfillment_views_sink_batch_duration_seconds'), 'views sink batch'],
        [q.quantile(0.99, 'fulfillment_views_sink_stock_freshness_seconds'), 'views freshness (stock level)'],
      ], { unit: 's', threshold: freshnessSlo }),
      row('Errors'),
      ts('Errors per second', [
        [q.deliveries('unauthorized', ''), 'webhook signature failures'],
        [`sum(rate(fulfillment_connector_deliveries_total{outcome=~"malformed|too_large|unknown_shop|rate_limited"}[${rate}]))`, 'webhooks rejected (malformed, too large, unknown shop, rate limited)'],
        [q.deliveries('store_failed', ''), 'webhooks not stored (503)'],
        [`sum(rate(fulfillment_connector_produce_failures_total[${rate}]))`, 'connector produce failures'],
        [`sum(rate(fulfillment_runtime_dead_letters_total[${rate}]))`, 'processor dead letters'],
        [`sum(rate(fulfillment_views_sink_rejected_total[${rate}]))`, 'views sink rejects'],
        [`sum(rate(fulfillment_channel_sync_dead_letters_total[${rate}]))`, 'channel push dead letters'],
      ], { unit: 'ops', w: 24 }),
      row('Processes'),
      ts('CPU by job', [[`sum by (job) (rate(process_cpu_seconds_total[${rate}]))`, '{{job}}']], { unit: 'percentunit', description: '1.0 = one core.' }),
      ts('Working set by job', [['sum by (job) (process_working_set_bytes)', '{{job}}']], { unit: 'bytes' }),
    ]),

  channels: dashboard('fulfillment-channels', 'Fulfillment · Channels',
    'Inbound channel traffic at the webhook connector (webhooks and pollers share one ingest pipeline): deliveries by channel and outcome, signature failures, dedupes, latency, publishing to Kafka.', () => [
      row('Deliveries'),
      ts('Accepted deliveries by channel', [[q.deliveries('accepted'), '{{channel}}']], { unit: 'reqps', stack: true, description: 'Webhook, queue and poll deliveries stored and acknowledged.' }),
      ts('Deliveries by outcome', [[q.deliveries('', 'outcome'), '{{outcome}}']], { unit: 'reqps', stack: true }),
      ts('Signature failures by channel', [[q.deliveries('unauthorized'), '{{channel}}']], { unit: 'reqps', description: 'HMAC / signature verification failed (HTTP 401): a wrong or rotated secret, or someone probing the endpoint.' }),
      ts('Duplicates (deduped) by channel', [[q.deliveries('duplicate'), '{{channel}}']], { unit: 'reqps', description: 'Redeliveries recognised by vendor delivery id and not processed again; polls overlapping webhooks land here too.' }),
      ts('Rejected deliveries by channel and outcome', [
        [`sum by (channel, outcome) (rate(fulfillment_connector_deliveries_total{outcome=~"malformed|too_large|unknown_shop|rate_limited|store_failed"}[${rate}]))`, '{{channel}} {{outcome}}'],
      ], { unit: 'reqps' }),
      ts('Order lines with unknown SKU by channel', [[`sum by (channel) (rate(fulfillment_connector_unknown_sku_lines_total[${rate}]))`, '{{channel}}']], { unit: 'ops' }),
      row('Latency'),
      ts('Webhook ack p50 / p99 by channel', [
        [q.quantile(0.5, 'fulfillment_connector_ack_duration_seconds', 'channel'), 'p50 {{channel}}'],
        [q.quantile(0.99, 'fulfillment_connector_ack_duration_seconds', 'channel'), 'p99 {{channel}}'],
      ], { unit: 's', description: 'Request start to answer, raw delivery committed to Postgres.' }),
      ts('Raw store group-commit size', [
        [q.quantile(0.5, 'fulfillment_connector_raw_store_batch_rows'), 'p50'],
        [q.quantile(0.99, 'fulfillment_connector_raw_store_batch_rows'), 'p99'],
      ], { unit: 'short', description: 'Deliveries written to Postgres per commit.' }),
      row('Publishing to Kafka'),
      ts('Events produced by topic', [[`sum by (topic) (rate(fulfillment_connector_events_produced_total[${rate}]))`, '{{topic}}']], { unit: 'ops', stack: true }),
      ts('Publish backlog, produce failures, sweeper', [
        ['sum(fulfillment_connector_publish_backlog_deliveries)', 'backlog (deliveries)'],
        [`sum(rate(fulfillment_connector_produce_failures_total[${rate}]))`, 'produce failures /s'],
        [`sum(rate(fulfillment_connector_republished_deliveries_total[${rate}]))`, 'republished by sweeper /s'],
      ], { unit: 'short', description: 'Stored deliveries not yet acknowledged by Kafka; the sweeper republishes what the live path missed.' }),
      row('Pollers'),
      ts('Polls by channel and outcome', [[`sum by (channel, outcome) (rate(fulfillment_connector_polls_total[${rate}]))`, '{{channel}} {{outcome}}']], {
        unit: 'ops', stack: true, description: 'Amazon getOrders, WooCommerce reconciliation and eBay getOrders, one poll per shop per interval.',
      }),
      ts('Orders fetched by polls', [[`sum by (channel) (rate(fulfillment_connector_polled_orders_total[${rate}]))`, '{{channel}}']], {
        unit: 'ops', stack: true, description: 'Each goes through the raw-first pipeline; orders webhooks already brought end as duplicates above.',
      }),
      ts('Poll errors by channel and error', [[`sum by (channel, error) (increase(fulfillment_connector_poll_errors_total[${rate}]))`, '{{channel}} {{error}}']], {
        unit: 'short', description: 'The checkpoint stays and the next poll retries.',
      }),
      ts('Poll checkpoint age by shop', [['max by (channel, shop) (fulfillment_connector_poll_checkpoint_age_seconds)', '{{channel}} {{shop}}']], {
        unit: 's', threshold: 3600, description: 'How far back the next poll starts; grows when polls fail or fall behind (ticket above 1 h for 15 minutes).',
      }),
      ts('Poll duration by channel', [
        [q.quantile(0.5, 'fulfillment_connector_poll_duration_seconds', 'channel'), 'p50 {{channel}}'],
        [q.quantile(0.99, 'fulfillment_connector_poll_duration_seconds', 'channel'), 'p99 {{channel}}'],
      ], { unit: 's', description: 'Paging and the channels\' documented rate limits (token buckets) included.' }),
    ]),

  'allocation-inventory': dashboard('fulfillment-allocation-inventory', 'Fulfillment · Allocation and inventory',
    'The inventory pool processor: what goes in (orders, stock movements, shipments, operator commands), what comes out (allocation events, stock levels), decider latency, dead letters and state restore.', () => [
      row('Decisions'),
      ts('Inputs by topic', [[`sum by (topic) (rate(fulfillment_runtime_records_in_total{application=~".*inventory-pool.*"}[${rate}]))`, '{{topic}}']], { unit: 'ops', stack: true }),
      ts('Outputs by topic', [[`sum by (topic) (rate(fulfillment_runtime_records_out_total{application=~".*inventory-pool.*"}[${rate}]))`, '{{topic}}']], {
        unit: 'ops', stack: true, description: 'fulfillment.allocations carries allocations, backorders and releases; fulfillment.stock-levels one record per changed SKU × location.',
      }),
      ts('Allocation events per order event', [[
        `sum(rate(fulfillment_runtime_records_out_total{topic="fulfillment.allocations"}[${rate}])) / sum(rate(fulfillment_runtime_records_in_total{topic="fulfillment.orders"}[${rate}]))`, 'allocation events / order event',
      ]], { unit: 'short', description: 'Above 1: splits, re-allocations and releases; near 0 with orders flowing: nothing allocates.' }),
      ts('Stock-level changes per stock movement', [[
        `sum(rate(fulfillment_runtime_records_out_total{topic="fulfillment.stock-levels"}[${rate}])) / sum(rate(fulfillment_runtime_records_in_total{topic="fulfillment.stock-movements"}[${rate}]))`, 'stock levels / movement',
      ]], { unit: 'short' }),
      row('Decider'),
      ts('Decider latency per record', [
        [q.quantile(0.5, 'fulfillment_runtime_processing_duration_seconds', 'application'), 'p50 {{application}}'],
        [q.quantile(0.99, 'fulfillment_runtime_processing_duration_seconds', 'application'), 'p99 {{application}}'],
        [q.quantile(0.999, 'fulfillment_runtime_processing_duration_seconds', 'application'), 'p99.9 {{application}}'],
      ], { unit: 's', description: 'Handler time for one input record: decode, decide, encode outputs.' }),
      ts('Dead letters by reason', [[`sum by (application, reason) (rate(fulfillment_runtime_dead_letters_total[${rate}]))`, '{{application}} {{reason}}']], { unit: 'ops' }),
      row('State'),
      ts('Restore: changelog records remaining', [['sum by (application, store) (fulfillment_runtime_restore_remaining_records)', '{{application}} {{store}}']], { unit: 'short' }),
      ts('Restore: records read', [[`sum by (application, store) (rate(fulfillment_runtime_restored_records_total[${rate}]))`, '{{application}} {{store}}']], { unit: 'ops' }),
      row('Outcomes and stock (as the views take them in)'),
      ts('Allocation outcomes', [[`sum by (outcome) (rate(fulfillment_views_sink_allocation_outcomes_total[${rate}]))`, '{{outcome}}']], {
        unit: 'ops', stack: true, description: 'allocated: one location; split: several; backordered; released. A backorder fill is a new decision and counts again.',
      }),
      ts('Split and backorder rates', [
        [`sum(rate(fulfillment_views_sink_allocation_outcomes_total{outcome="split"}[${rate}])) / sum(rate(fulfillment_views_sink_allocation_outcomes_total{outcome=~"allocated|split"}[${rate}]))`, 'split share of allocations'],
        [`sum(rate(fulfillment_views_sink_allocation_outcomes_total{outcome="backordered"}[${rate}])) / sum(rate(fulfillment_views_sink_allocation_outcomes_total{outcome=~"allocated|split|backordered"}[${rate}]))`, 'backorders per decision'],
      ], { unit: 'percentunit' }),
      ts('Stock available by location', [['sum by (pool, location) (fulfillment_views_sink_stock_available_units)', '{{pool}} {{location}}']], {
        unit: 'short', description: 'Units available to allocate, summed over SKUs (stock_levels in the views, refreshed at most every 10 s).',
      }),
      ts('Drift detected', [
        [`sum by (detected_by) (increase(fulfillment_views_sink_drift_detected_total[${rate}]))`, 'reports {{detected_by}}'],
        [`sum by (detected_by) (increase(fulfillment_views_sink_drift_units_total[${rate}]))`, 'units {{detected_by}}'],
      ], { unit: 'short', description: 'A count or a 3PL snapshot disagreeing with the books: the books follow the count; the ledger keeps the correction.' }),
    ]),

  pipeline: dashboard('fulfillment-pipeline', 'Fulfillment · Pipeline lag and freshness',
    'How far behind the processors are and how old data is when it comes out: consumer lag, commit latency, freshness against the 500 ms p99 SLO.', () => [
      row('Lag'),
      ts('Consumer lag by topic', [['sum by (application, topic) (fulfillment_runtime_consumer_lag_records)', '{{application}} {{topic}}']], { unit: 'short', threshold: 10000, description: 'High watermark minus next offset to process; the alert fires above 10,000 for 5 minutes.' }),
      ts('Most-lagging partitions', [['topk(10, max by (application, topic, partition) (fulfillment_runtime_consumer_lag_records))', '{{topic}} [{{partition}}]']], { unit: 'short' }),
      ts('Views sink lag by topic', [['sum by (topic) (fulfillment_views_sink_consumer_lag_records)', '{{topic}}']], {
        unit: 'short', threshold: 10000, description: 'High watermark minus the next offset the views sink reads, as of its last batch; the alert fires above 10,000 for 5 minutes.',
      }),
      row('Freshness'),
      ts('Processor freshness (event age at output)', [
        [q.quantile(0.5, 'fulfillment_runtime_event_age_at_output_seconds', 'application'), 'p50 {{application}}'],
        [q.quantile(0.99, 'fulfillment_runtime_event_age_at_output_seconds', 'application'), 'p99 {{application}}'],
      ], { unit: 's', threshold: freshnessSlo, description: 'Wall-clock age of the input record when its output was forwarded; the red line is the 500 ms p99 SLO.' }),
      ts('Commit latency', [
        [q.quantile(0.5, 'fulfillment_runtime_commit_duration_seconds', 'application'), 'p50 {{application}}'],
        [q.quantile(0.99, 'fulfillment_runtime_commit_duration_seconds', 'application'), 'p99 {{application}}'],
      ], { unit: 's', description: 'Flush outputs and changelogs, write state, commit offsets.' }),
      ts('Commits per second', [[`sum by (application) (rate(fulfillment_runtime_commit_duration_seconds_count[${rate}]))`, '{{application}}']], { unit: 'ops' }),
      ts('Views freshness (stock-level change age at commit)', [
        [q.quantile(0.5, 'fulfillment_views_sink_stock_freshness_seconds'), 'p50'],
        [q.quantile(0.99, 'fulfillment_views_sink_stock_freshness_seconds'), 'p99'],
      ], { unit: 's', threshold: freshnessSlo, description: 'From the input reaching Kafka (the processor\'s stream time) to the stock_levels row committed: what availability answers from. Red line: the 500 ms p99 SLO.' }),
      ts('Views sink write latency', [
        [q.quantile(0.5, 'fulfillment_views_sink_batch_duration_seconds'), 'p50'],
        [q.quantile(0.99, 'fulfillment_views_sink_batch_duration_seconds'), 'p99'],
      ], { unit: 's', description: 'Last hop to the Postgres views.' }),
      row('Throughput'),
      ts('Records in / out by application', [
        [`sum by (application) (rate(fulfillment_runtime_records_in_total[${rate}]))`, 'in {{application}}'],
        [`sum by (application) (rate(fulfillment_runtime_records_out_total[${rate}]))`, 'out {{application}}'],
      ], { unit: 'ops' }),
      ts('Connector publish backlog', [['sum(fulfillment_connector_publish_backlog_deliveries)', 'deliveries stored, not yet in Kafka']], { unit: 'short' }),
    ]),

  sinks: dashboard('fulfillment-sinks', 'Fulfillment · Sinks and channel push',
    'The views sink (topics → Postgres) and the channel sync worker (tracking, status and stock pushed back to the channels): batches, latency, attempts, retries, dead letters.', () => [
      row('Views sink'),
      ts('Records written by topic', [[`sum by (topic) (rate(fulfillment_views_sink_records_total[${rate}]))`, '{{topic}}']], { unit: 'ops', stack: true }),
      ts('Batch write latency', [
        [q.quantile(0.5, 'fulfillment_views_sink_batch_duration_seconds'), 'p50'],
        [q.quantile(0.99, 'fulfillment_views_sink_batch_duration_seconds'), 'p99'],
      ], { unit: 's' }),
      ts('Batches and batch size', [
        [`sum(rate(fulfillment_views_sink_batch_duration_seconds_count[${rate}]))`, 'batches /s'],
        [`sum(rate(fulfillment_views_sink_records_total[${rate}])) / sum(rate(fulfillment_views_sink_batch_duration_seconds_count[${rate}]))`, 'records per batch'],
      ], { unit: 'short' }),
      ts('Rejected records (kept in sink_rejects)', [[`sum(rate(fulfillment_views_sink_rejected_total[${rate}]))`, 'rejected /s']], { unit: 'ops' }),
      ts('Postgres and registry errors retried', [[`sum by (operation, reason) (increase(fulfillment_views_sink_transient_errors_total[${rate}]))`, '{{operation}} {{reason}}']], {
        unit: 'short', description: 'Server restarting (57P01/57P03), connection lost (08xxx, io), registry 5xx: the transaction is redone with backoff, nothing is lost.',
      }),
      ts('Consumer lag by topic', [['sum by (topic) (fulfillment_views_sink_consumer_lag_records)', '{{topic}}']], { unit: 'short' }),
      row('Channel push'),
      ts('Push attempts by channel and outcome', [[q.pushes('', 'channel, outcome'), '{{channel}} {{outcome}}']], {
        unit: 'ops', stack: true, description: 'Pushed; AlreadyPushed (found at the channel, not repeated); NotApplicable; Retrying; DeadLettered.',
      }),
      ts('Push attempts by operation', [[q.pushes('', 'operation, outcome'), '{{operation}} {{outcome}}']], { unit: 'ops', stack: true }),
      ts('Push latency by channel', [
        [q.quantile(0.5, 'fulfillment_channel_sync_push_duration_seconds', 'channel'), 'p50 {{channel}}'],
        [q.quantile(0.99, 'fulfillment_channel_sync_push_duration_seconds', 'channel'), 'p99 {{channel}}'],
      ], { unit: 's', description: 'Time one attempt spends calling the channel (all its HTTP calls).' }),
      ts('Retries by channel', [[q.pushes('Retrying', 'channel'), '{{channel}}']], { unit: 'ops', description: '5xx, 429 and timeouts: retried with backoff (or the channel\'s Retry-After).' }),
      ts('Dead letters by channel and reason', [[`sum by (channel, operation, reason) (increase(fulfillment_channel_sync_dead_letters_total[${rate}]))`, '{{channel}} {{operation}} {{reason}}']], {
        unit: 'short', description: 'Given up on (Rejected by the channel, RetriesExhausted, Unconfigured shop): on fulfillment.dead-letters with the reason.',
      }),
      ts('Push failure ratio by channel', [[
        `${q.pushes('Retrying|DeadLettered', 'channel')} / ${q.pushes('', 'channel')}`, '{{channel}}',
      ]], { unit: 'percentunit', threshold: 0.2, description: 'Share of attempts that did not push; the alert fires above 20 % for 10 minutes.' }),
      ts('Stock pushes saved and skipped', [
        [`sum by (channel) (rate(fulfillment_channel_sync_stock_coalesced_total[${rate}]))`, 'coalesced {{channel}}'],
        [`sum by (channel) (rate(fulfillment_channel_sync_stock_skipped_total[${rate}]))`, 'skipped (no shop) {{channel}}'],
      ], { unit: 'ops', description: 'Coalesced: a stock figure replaced by a newer one before it was pushed.' }),
      ts('Pushes in flight', [['sum by (kind) (fulfillment_channel_sync_pushes_in_flight)', '{{kind}}']], { unit: 'short', description: 'Including backoff waits.' }),
    ]),
};

// ---- write or check --------------------------------------------------------------------------------------------------
const out = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');
const check = process.argv.includes('--check');
let stale = 0;
mkdirSync(out, { recursive: true });
for (const [name, d] of Object.entries(dashboards)) {
  const file = join(out, `${name}.json`);
  const text = JSON.stringify(d, null, 2) + '\n';
  if (check) {
    let current = '';
    try { current = readFileSync(file, 'utf8'); } catch { /* missing counts as stale */ }
    if (current !== text) {
      console.error(`${file} is not what build-dashboards.mjs generates: run node ops/grafana/build-dashboards.mjs`);
      stale++;
    }
  } else {
    writeFileSync(file, text);
  }
}
process.exit(stale ? 1 : 0);
