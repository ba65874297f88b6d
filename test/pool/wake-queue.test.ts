import { describe, expect, it } from 'vitest';
import { WakeQueue } from '../../src/pool/wake-queue.js';
import { ManualClock } from '../../src/testing/index.js';

/** The pool's one timer for its resting keys: wake-ups in order of their instants, and cancelled ones dropped. */
describe('WakeQueue', () => {
  it('calls each wake-up at its instant, in order of the instants, on one timer', () => {
    const clock = new ManualClock(0);
    const queue = new WakeQueue(clock);
    const called: number[] = [];
    for (const at of [50, 10, 40, 20, 30]) queue.add(at, () => called.push(at));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(25);
    expect(called).toEqual([10, 20]);
    clock.advance(100);
    expect(called).toEqual([10, 20, 30, 40, 50]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a cancelled wake-up is never called, and past half the queue the cancelled ones are dropped at once (a removed key is not held until its time)', () => {
    const clock = new ManualClock(0);
    const queue = new WakeQueue(clock);
    const called: number[] = [];
    const wakeUps = Array.from({ length: 10 }, (_, index) => queue.add(100 + index, () => called.push(index)));
    for (const index of [0, 2, 4, 6]) wakeUps[index]!.cancel();
    expect(queue.size).toBe(10); // four of ten: kept until their time
    wakeUps[8]!.cancel();
    wakeUps[8]!.cancel(); // twice is once
    wakeUps[9]!.cancel();
    expect(queue.size).toBe(4); // six of ten: dropped
    clock.advance(200);
    expect(called).toEqual([1, 3, 5, 7]);
    expect(queue.size).toBe(0);
  });

  it('the timer follows the earliest wake-up left when the earliest are cancelled', () => {
    const clock = new ManualClock(0);
    const queue = new WakeQueue(clock);
    const called: number[] = [];
    const early = [queue.add(10, () => called.push(10)), queue.add(20, () => called.push(20))];
    queue.add(30, () => called.push(30));
    for (const wakeUp of early) wakeUp.cancel();
    clock.advance(29);
    expect(called).toEqual([]);
    clock.advance(1);
    expect(called).toEqual([30]);
  });

  it('stop() drops every wake-up and the timer; an add after it is never called', () => {
    const clock = new ManualClock(0);
    const queue = new WakeQueue(clock);
    const called: number[] = [];
    queue.add(10, () => called.push(10));
    queue.stop();
    queue.add(5, () => called.push(5));
    expect(clock.pendingTimers).toBe(0);
    clock.advance(100);
    expect(called).toEqual([]);
  });
});
