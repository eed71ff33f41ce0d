import pg from 'pg';
import { ORDER_EVENTS_CHANNEL } from '../core/orders/order-events.ts';

// Client-side decision times: the order worker NOTIFYs each decided order's id on commit (the
// channel the long-polls use), so the moment a notification reaches us is the moment the decision
// became visible to clients. Timestamps are performance.now() of this process, like the submit
// times in orders-load.ts, so the two subtract.

export interface DecisionListener {
  /** Order id → when its decision notification arrived. */
  seenAt: Map<number, number>;
  close(): Promise<void>;
}

export async function listenForDecisions(databaseUrl: string): Promise<DecisionListener> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-decisions' });
  const seenAt = new Map<number, number>();
  client.on('notification', (message) => {
    const id = Number(message.payload);
    if (!seenAt.has(id)) seenAt.set(id, performance.now());
  });
  await client.connect();
  await client.query(`LISTEN ${ORDER_EVENTS_CHANNEL}`);
  return { seenAt, close: () => client.end() };
}
