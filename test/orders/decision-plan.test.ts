import { expect } from 'chai';
import { planDecisions, stockKey, type LockedOrder } from '../../core/orders/decision-plan.ts';

// The decision rules on their own, without a database.
describe('order decision rules', () => {
  const order = (id: number, lines: [number, number][], status: LockedOrder['status'] = 'PENDING'): LockedOrder => ({
    id,
    storeId: 1,
    status,
    lines: lines.map(([productId, quantity]) => ({ productId, quantity })),
  });
  const stock = (entries: [number, number][]) => new Map(entries.map(([productId, quantity]) => [stockKey(1, productId), quantity]));
  const byId = (...orders: LockedOrder[]) => new Map(orders.map((o) => [o.id, o]));

  it('applies a batch in queue order, each order all-or-nothing against what the previous left', () => {
    const plan = planDecisions(
      [
        { orderId: 1, action: 'place' },
        { orderId: 2, action: 'place' },
        { orderId: 3, action: 'place' },
      ],
      byId(order(1, [[10, 2], [11, 1]]), order(2, [[10, 2], [11, 1]]), order(3, [[10, 1]])),
      stock([[10, 3], [11, 5]]),
    );
    expect(plan.orders.get(1)).to.deep.equal({ status: 'CONFIRMED', rejection: null, decided: true, cancelled: false });
    expect(plan.orders.get(2)).to.deep.equal({
      status: 'REJECTED',
      rejection: { reason: 'insufficient_stock', items: [{ product_id: 10, requested: 2, available: 1 }] },
      decided: true,
      cancelled: false,
    });
    expect(plan.orders.get(3)?.status).to.equal('CONFIRMED');
    expect([...plan.stockDeltas.values()]).to.deep.equal([
      { storeId: 1, productId: 10, delta: -3 },
      { storeId: 1, productId: 11, delta: -1 },
    ]);
    expect(plan.ledger.map((row) => [row.orderId, row.productId, row.delta, row.quantityAfter])).to.deep.equal([
      [1, 10, -2, 1],
      [1, 11, -1, 4],
      [3, 10, -1, 0],
    ]);
  });

  it('a product the store does not stock has nothing available', () => {
    const plan = planDecisions([{ orderId: 1, action: 'place' }], byId(order(1, [[20, 1]])), stock([]));
    expect(plan.orders.get(1)?.rejection).to.deep.equal({ reason: 'insufficient_stock', items: [{ product_id: 20, requested: 1, available: 0 }] });
    expect(plan.ledger).to.have.length(0);
  });

  it('a cancellation after a confirmation in the same batch returns the stock, and later orders can take it', () => {
    const plan = planDecisions(
      [
        { orderId: 1, action: 'place' },
        { orderId: 1, action: 'cancel' },
        { orderId: 2, action: 'place' },
      ],
      byId(order(1, [[10, 4]]), order(2, [[10, 4]])),
      stock([[10, 4]]),
    );
    expect(plan.orders.get(1)).to.deep.equal({ status: 'CANCELLED', rejection: null, decided: true, cancelled: true });
    expect(plan.orders.get(2)?.status).to.equal('CONFIRMED');
    expect(plan.ledger.map((row) => [row.orderId, row.delta, row.quantityAfter, row.reason])).to.deep.equal([
      [1, -4, 0, 'order_confirmed'],
      [1, 4, 4, 'order_cancelled'],
      [2, -4, 0, 'order_confirmed'],
    ]);
    expect(plan.stockDeltas.get(stockKey(1, 10))?.delta).to.equal(-4);
  });

  it('cancelling a confirmed order keeps its decided_at; a pending one is decided as cancelled', () => {
    const plan = planDecisions(
      [
        { orderId: 1, action: 'cancel' },
        { orderId: 2, action: 'cancel' },
      ],
      byId(order(1, [[10, 1]], 'CONFIRMED'), order(2, [[10, 1]])),
      stock([[10, 0]]),
    );
    expect(plan.orders.get(1)).to.deep.equal({ status: 'CANCELLED', rejection: null, decided: false, cancelled: true });
    expect(plan.orders.get(2)).to.deep.equal({ status: 'CANCELLED', rejection: null, decided: true, cancelled: true });
    expect(plan.ledger.map((row) => [row.orderId, row.delta])).to.deep.equal([[1, 1]]);
  });

  it('redelivered and repeated jobs change nothing', () => {
    const plan = planDecisions(
      [
        { orderId: 1, action: 'place' },
        { orderId: 2, action: 'cancel' },
        { orderId: 3, action: 'cancel' },
        { orderId: 3, action: 'cancel' },
        { orderId: 4, action: 'place' },
      ],
      byId(order(1, [[10, 1]], 'CONFIRMED'), order(2, [[10, 1]], 'REJECTED'), order(3, [[10, 1]], 'CONFIRMED')),
      stock([[10, 5]]),
    );
    expect([...plan.orders.keys()]).to.deep.equal([3]);
    expect(plan.ledger).to.have.length(1);
  });
});
