import type { StockCheck } from './orders-database.ts';
import type { RowLockResult } from './orders-rowlock.ts';

// The markdown the benchmark prints (and saves for BENCHMARKS.md): every figure of the run next
// to its ratio to the baselines measured in the same run, and the target it is held to.

export interface QueuedPhase {
  orders: number;
  accepted: number;
  errors: Record<string, number>;
  confirmed: number;
  rejected: number;
  submitP50: number;
  submitP99: number;
  /** POST sent → decision notification received (client-side). */
  decisionP50: number;
  decisionP99: number;
  missingNotifications: number;
  /** created_at → decided_at in the database (both are transaction start times). */
  dbDecisionP50: number;
  dbDecisionP99: number;
  decidedPerSecond: number;
  check: StockCheck;
  emailsDelivered: number;
  /** CPU ms per order of the web process, and of the order worker and mailer processes together. */
  webCpuMs: number;
  workerCpuMs: number;
  /** CPU ms per order of the local PostgreSQL server's processes (0 when it is remote). */
  postgresCpuMs: number;
  /** CPU ms per order of the benchmark process: load generator, SMTP sink, decision listener. */
  benchCpuMs: number;
  /** Share of the machine's CPU time (every core, submit to last email) those four used. */
  machineShare: number;
}

export interface NaivePhase {
  orders: number;
  accepted: number;
  errors: Record<string, number>;
  confirmed: number;
  p50: number;
  p99: number;
  decidedPerSecond: number;
  check: StockCheck;
  /** CPU ms per order of the naive app process, and of the local PostgreSQL server. */
  cpuMs: number;
  postgresCpuMs: number;
}

export interface Report {
  date: string;
  command: string;
  machine: string;
  /** Load average (1, 5, 15 min): a busy machine makes every figure worse. */
  load: string;
  settings: string;
  rowLock: RowLockResult;
  flash: { queued: QueuedPhase; naive: NaivePhase | null };
  spread: { queued: QueuedPhase; naive: NaivePhase | null };
}

const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'n/a');
const rate = (value: number) => (Number.isFinite(value) ? `${Math.round(value).toLocaleString('en-US')}/s` : 'n/a');
const ratio = (value: number, base: number | undefined) => (base && Number.isFinite(value) ? `${(value / base).toFixed(2)}×` : '');
const verdict = (ok: boolean) => (ok ? 'yes' : '**NO**');

export function renderReport(report: Report): string {
  const a = report.rowLock.perSecond;
  const rows: string[][] = [];
  const add = (...cells: string[]) => rows.push(cells);

  add('(a) row-lock ceiling: one-row UPDATE loop', rate(a), '1.00×', '', '', '');
  for (const [shape, phase] of [['flash sale', report.flash], ['spread', report.spread]] as const) {
    if (phase.naive) {
      const b = phase.naive;
      add(`(b) naive, ${shape}: orders decided`, rate(b.decidedPerSecond), ratio(b.decidedPerSecond, a), '1.00×', '', '');
      add(`(b) naive, ${shape}: request latency p50 / p99`, `${ms(b.p50)} / ${ms(b.p99)}`, '', '', '', '');
      add(`(b) naive, ${shape}: CPU per order, naive app process + PostgreSQL`, `${ms(b.cpuMs)} + ${ms(b.postgresCpuMs)}`, '', '', '', '');
      add(`(b) naive, ${shape}: zero oversell`, verdict(b.check.ok), '', '', 'yes', verdict(b.check.ok));
    }
  }
  const queued = (shape: string, q: QueuedPhase, naive: NaivePhase | null, decidedTarget: string, decidedOk: boolean) => {
    const b = naive?.decidedPerSecond;
    add(`${shape}: orders decided (first submit → last decision)`, rate(q.decidedPerSecond), ratio(q.decidedPerSecond, a), ratio(q.decidedPerSecond, b), decidedTarget, verdict(decidedOk));
    add(`${shape}: submit latency p50 (POST → 202)`, ms(q.submitP50), '', naive ? ratio(q.submitP50, naive.p50) : '', '', '');
    add(`${shape}: submit latency p99`, ms(q.submitP99), '', naive ? ratio(q.submitP99, naive.p99) : '', '< 25 ms', verdict(q.submitP99 < 25));
    add(`${shape}: decision latency p50 (POST sent → decision NOTIFY received)`, ms(q.decisionP50), '', naive ? ratio(q.decisionP50, naive.p50) : '', '< 50 ms', verdict(q.decisionP50 < 50));
    add(`${shape}: decision latency p99`, ms(q.decisionP99), '', naive ? ratio(q.decisionP99, naive.p99) : '', '< 500 ms', verdict(q.decisionP99 < 500));
    add(`${shape}: decision latency p50 / p99 in the database (created_at → decided_at)`, `${ms(q.dbDecisionP50)} / ${ms(q.dbDecisionP99)}`, '', '', '', '');
    add(`${shape}: zero oversell, every order decided`, verdict(q.check.ok), '', '', 'yes', verdict(q.check.ok));
    add(`${shape}: CPU per order, web + workers and mailer`, `${ms(q.webCpuMs)} + ${ms(q.workerCpuMs)}`, '', naive ? ratio(q.webCpuMs + q.workerCpuMs, naive.cpuMs) : '', '', '');
    add(`${shape}: CPU per order, PostgreSQL (local server) + this benchmark process`, `${ms(q.postgresCpuMs)} + ${ms(q.benchCpuMs)}`, '', naive ? ratio(q.postgresCpuMs, naive.postgresCpuMs) : '', '', '');
    add(`${shape}: the machine's CPU those four used, first submit → last email`, `${Math.round(q.machineShare * 100)}%`, '', '', '', '');
    add(`${shape}: confirmed / rejected / emails delivered`, `${q.confirmed} / ${q.rejected} / ${q.emailsDelivered}`, '', '', '', '');
  };
  const f = report.flash;
  const flashOk = f.queued.decidedPerSecond >= a && (!f.naive || f.queued.decidedPerSecond >= 2 * f.naive.decidedPerSecond);
  queued('Flash sale', f.queued, f.naive, '≥ 2× (b), ≥ 1× (a)', flashOk);
  queued('Spread', report.spread.queued, report.spread.naive, '≥ 1,500/s', report.spread.queued.decidedPerSecond >= 1500);

  const table = [
    '| Figure | Value | vs (a) | vs (b) same shape | Target | Met |',
    '|---|---:|---:|---:|---|---|',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ];
  const problems = [report.flash, report.spread].flatMap((p) => [
    ...p.queued.check.problems,
    ...(p.naive?.check.problems ?? []),
    ...(p.queued.missingNotifications ? [`queued: ${p.queued.missingNotifications} decisions without a notification (left out of the latencies)`] : []),
    ...Object.entries(p.queued.errors).map(([status, n]) => `queued: ${n} submits answered ${status}`),
    ...Object.entries(p.naive?.errors ?? {}).map(([status, n]) => `naive: ${n} requests answered ${status}`),
  ]);
  return [
    `Run: ${report.date}`,
    `Command: \`${report.command}\``,
    `Machine: ${report.machine}`,
    `Load average: ${report.load}`,
    `Settings: ${report.settings}`,
    '',
    ...table,
    '',
    ...(problems.length ? ['Problems:', ...problems.map((p) => `- ${p}`), ''] : []),
  ].join('\n');
}
