/**
 * A Redis for the fleet simulation, on simulated time: the coordination's own Lua scripts run in a
 * Lua VM (fengari), atomically, against a small keyspace with expiries read off the simulation's
 * clock (GET, SET with PX, DEL, INCR, PTTL, PEXPIRE, PUBLISH), with Redis's conversions between Lua
 * and replies. Each process reaches it over its own simulated link, which the schedule breaks: a
 * request lost on the way (it never runs), a reply lost on the way back (it ran), either one late by
 * more than the caller's bound (it runs, or is answered, after the caller gave up), a partition that
 * loses everything for a while, a reset that fails the request at once, pub/sub messages lost.
 * Clients are ioredis-shaped, so `redisCoordination` takes them as it takes a real one.
 */
import fengari from 'fengari';
import type { RedisClient } from '../../src/redis/index.js';
import type { ManualClock } from '../../src/testing/index.js';
import { trace, TRACE_FILE } from './sim-browser.js';

const { lua, lauxlib, lualib } = fengari as unknown as FengariModule;

interface Entry {
  value: string;
  expiresAt: number | null;
}

type Reply = string | number | null | Reply[];

/** What a process's link does to its next requests (`'ok'`: delivered after a small delay). */
export type LinkFault = 'ok' | 'lose-request' | 'lose-reply' | 'late-request' | 'late-reply' | 'reset';

export class SimRedis {
  readonly #data = new Map<string, Entry>();
  readonly #subscribers = new Set<{ channel: string; deliver: (message: string) => void }>();
  /**
   * One Lua VM for every simulated Redis, its scripts compiled once, as Redis keeps a script it has
   * run (EVALSHA): a VM and its compiled scripts for each of a thousand schedules was a tenth of the
   * simulation's CPU. A script runs to its end before the next one starts (Redis's single thread),
   * so `redis.call` reaches the Redis whose script is running; nothing else of a run stays in the VM
   * (KEYS and ARGV are set for each script, and the scripts keep their variables local).
   */
  static #vm: { state: LuaState; compiled: Map<string, number>; running: SimRedis | null } | undefined;
  /** Scripts run (the work the fleet put on Redis). */
  evals = 0;
  /** Told each refresh-token record written (its key and `version|sealed`), when it is written. */
  onRecordWritten: (key: string, stored: string) => void = () => {};

  recordWritten(key: string, stored: string): void {
    this.onRecordWritten(key, stored);
  }

  constructor(readonly clock: ManualClock) {}

  static #shared(): { state: LuaState; compiled: Map<string, number>; running: SimRedis | null } {
    if (SimRedis.#vm !== undefined) return SimRedis.#vm;
    const L = lauxlib.luaL_newstate();
    lualib.luaL_openlibs(L);
    const vm = { state: L, compiled: new Map<string, number>(), running: null as SimRedis | null };
    lua.lua_newtable(L);
    lua.lua_pushjsfunction(L, (state: LuaState) => {
      if (vm.running === null) throw new Error('simulation: redis.call outside a script');
      return vm.running.#redisCall(state);
    });
    lua.lua_setfield(L, -2, luaString('call'));
    lua.lua_setglobal(L, luaString('redis'));
    SimRedis.#vm = vm;
    return vm;
  }

  /** Runs a script now, atomically (a script is one step of Redis's single thread). */
  evaluate(script: string, keys: readonly string[], args: readonly string[]): Reply {
    this.evals++;
    const vm = SimRedis.#shared();
    const L = vm.state;
    vm.running = this;
    try {
      setTable(L, 'KEYS', keys);
      setTable(L, 'ARGV', args);
      pushCompiled(vm, script);
      if (lua.lua_pcall(L, 0, 1, 0) !== 0) {
        const message = jsString(L, -1);
        lua.lua_pop(L, 1);
        throw new Error(`ERR Error running script: ${message}`);
      }
      const reply = toReply(L, -1);
      lua.lua_pop(L, 1);
      return reply;
    } finally {
      vm.running = null;
    }
  }

  subscribe(channel: string, deliver: (message: string) => void): () => void {
    const subscription = { channel, deliver };
    this.#subscribers.add(subscription);
    return () => this.#subscribers.delete(subscription);
  }

  /** The value stored under `key` now (the simulation's checks read it). */
  get(key: string): string | null {
    return this.#live(key)?.value ?? null;
  }

  /** The keys stored now. */
  keys(): string[] {
    return [...this.#data.keys()].filter((key) => this.#live(key) !== undefined);
  }

  /** Sets (or, with `null`, deletes) a key directly, as an operator's command would. */
  setRaw(key: string, value: string | null): void {
    if (value === null) this.#data.delete(key);
    else this.#data.set(key, { value, expiresAt: null });
  }

  /** Forgets everything (a Redis that lost its data). */
  flush(): void {
    this.#data.clear();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#data.get(key);
    if (entry !== undefined && entry.expiresAt !== null && entry.expiresAt <= this.clock.now()) {
      this.#data.delete(key);
      return undefined;
    }
    return entry;
  }

  #redisCall(L: LuaState): number {
    const count = lua.lua_gettop(L);
    const argv: string[] = [];
    for (let index = 1; index <= count; index++) argv.push(jsString(L, index));
    const [command, ...rest] = argv;
    const now = this.clock.now();
    const push = (reply: Reply | boolean): number => {
      if (reply === null || reply === false) lua.lua_pushboolean(L, false);
      else if (typeof reply === 'number') lua.lua_pushinteger(L, Math.trunc(reply));
      else if (typeof reply === 'string') lua.lua_pushstring(L, luaString(reply));
      else throw new Error('simulation: no array replies');
      return 1;
    };
    switch (command?.toUpperCase()) {
      case 'GET':
        return push(this.#live(rest[0]!)?.value ?? null);
      case 'SET': {
        const px = rest.findIndex((part) => part.toUpperCase() === 'PX');
        this.#data.set(rest[0]!, { value: rest[1]!, expiresAt: px >= 0 ? now + Number(rest[px + 1]) : null });
        lua.lua_newtable(L);
        lua.lua_pushstring(L, luaString('OK'));
        lua.lua_setfield(L, -2, luaString('ok'));
        return 1;
      }
      case 'DEL': {
        let deleted = 0;
        for (const key of rest) if (this.#live(key) !== undefined && this.#data.delete(key)) deleted++;
        return push(deleted);
      }
      case 'INCR': {
        const entry = this.#live(rest[0]!);
        const next = Number(entry?.value ?? 0) + 1;
        this.#data.set(rest[0]!, { value: String(next), expiresAt: entry?.expiresAt ?? null });
        return push(next);
      }
      case 'PTTL': {
        const entry = this.#live(rest[0]!);
        // whole milliseconds, as Redis answers (the simulation's clock may read fractions)
        return push(entry === undefined ? -2 : entry.expiresAt === null ? -1 : Math.ceil(entry.expiresAt - now));
      }
      case 'PEXPIRE': {
        const entry = this.#live(rest[0]!);
        if (entry === undefined) return push(0);
        entry.expiresAt = now + Number(rest[1]);
        return push(1);
      }
      case 'PUBLISH': {
        let receivers = 0;
        for (const subscriber of this.#subscribers) {
          if (subscriber.channel !== rest[0]) continue;
          receivers++;
          subscriber.deliver(rest[1]!);
        }
        return push(receivers);
      }
      default:
        throw new Error(`simulation: ${command} is not simulated`);
    }
  }
}

/**
 * Lua strings are bytes: a JS string's UTF-8, through Node's Buffer (fengari's own conversion goes
 * character by character in JS, and Node 20's TextEncoder costs a microsecond even for a short string).
 */
const decoder = new TextDecoder();
const luaString = (value: string): Uint8Array => Buffer.from(value, 'utf8');
const jsString = (L: LuaState, index: number): string => decoder.decode(lua.lua_tolstring(L, index));

/** Pushes the script's compiled chunk, compiling it on its first run in the VM only. */
function pushCompiled(vm: { state: LuaState; compiled: Map<string, number> }, script: string): void {
  const L = vm.state;
  let ref = vm.compiled.get(script);
  if (ref === undefined) {
    if (lauxlib.luaL_loadstring(L, luaString(script)) !== 0) throw new Error(`Lua: ${jsString(L, -1)}`);
    ref = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    vm.compiled.set(script, ref);
  }
  lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, ref);
}

function setTable(L: LuaState, name: string, values: readonly string[]): void {
  lua.lua_createtable(L, values.length, 0);
  for (let index = 0; index < values.length; index++) {
    lua.lua_pushstring(L, luaString(values[index]!));
    lua.lua_rawseti(L, -2, index + 1);
  }
  lua.lua_setglobal(L, luaString(name));
}

/** Redis's conversion of a script's result: numbers to integers, false to nil, a table to an array up to its first nil. */
function toReply(L: LuaState, index: number): Reply {
  switch (lua.lua_type(L, index)) {
    case lua.LUA_TNUMBER:
      return Math.trunc(lua.lua_tonumber(L, index));
    case lua.LUA_TSTRING:
      return jsString(L, index);
    case lua.LUA_TTABLE: {
      const items: Reply[] = [];
      for (let position = 1; ; position++) {
        lua.lua_rawgeti(L, index, position);
        if (lua.lua_type(L, -1) === lua.LUA_TNIL) {
          lua.lua_pop(L, 1);
          break;
        }
        items.push(toReply(L, -1));
        lua.lua_pop(L, 1);
      }
      return items;
    }
    case lua.LUA_TBOOLEAN:
      return lua.lua_toboolean(L, index) ? 1 : null;
    default:
      return null;
  }
}

/**
 * One process's link to the simulated Redis, and the two ioredis-shaped clients the coordination
 * is given over it (commands, and the subscriber). `faults` is consumed one per request; `down`
 * loses everything (a partition); `paused` holds what reaches the process until it resumes.
 */
export class SimLink {
  down = false;
  readonly faults: LinkFault[] = [];
  /** Requests that ran on Redis after their caller's bound (late ones), and replies lost. */
  stats = { late: 0, lost: 0 };

  constructor(
    readonly redis: SimRedis,
    readonly clock: ManualClock,
    readonly random: () => number,
    /** How a reply or message reaches the process (through its pause gate). */
    readonly deliver: (task: () => void) => void,
    /** The caller's bound on a request, to make a late one late. */
    readonly lateMs: number,
    readonly name = '',
  ) {}

  /** An ioredis-shaped pair: `client` runs scripts, `subscriber` listens. */
  clients(): { client: RedisClient; subscriber: RedisClient } {
    const link = this;
    const client = {
      status: 'ready',
      options: { enableOfflineQueue: false },
      eval: (script: string, keyCount: number, ...rest: string[]) => link.#eval(script, rest.slice(0, keyCount), rest.slice(keyCount)),
    };
    const handlers = new Set<(channel: string, message: string) => void>();
    const subscriptions = new Map<string, () => void>();
    const subscriber = {
      status: 'ready',
      options: { enableOfflineQueue: false },
      eval: () => Promise.reject(new Error('simulation: the subscriber runs no script')),
      on: (_event: 'message', handler: (channel: string, message: string) => void) => void handlers.add(handler),
      off: (_event: 'message', handler: (channel: string, message: string) => void) => void handlers.delete(handler),
      subscribe: (channel: string) =>
        link.#roundTrip(() => {
          subscriptions.set(
            channel,
            link.redis.subscribe(channel, (message) => {
              if (link.down || link.random() < 0.05) return; // pub/sub loses messages
              link.clock.setTimeout(() => link.deliver(() => handlers.forEach((handler) => handler(channel, message))), link.#delay());
            }),
          );
          return 1;
        }),
      unsubscribe: (channel: string) =>
        link.#roundTrip(() => {
          subscriptions.get(channel)?.();
          subscriptions.delete(channel);
          return 1;
        }),
    };
    return { client, subscriber };
  }

  #delay(): number {
    return 1 + Math.floor(this.random() * 3);
  }

  #eval(script: string, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    return this.#roundTrip(() => {
      const reply = this.redis.evaluate(script, keys, args);
      if (script.includes('local version') && reply === 1) this.redis.recordWritten(keys[5]!, args[1]!);
      if (TRACE_FILE !== undefined && script.includes('local version')) trace(`${this.clock.now() % 100_000} ${this.name} WRITE ${args[2]} ${args[0]} -> ${args[1]!.split('|')[0]} = ${String(reply)}`);
      if (TRACE_FILE !== undefined && script.includes("return {'lease'")) trace(`${this.clock.now() % 100_000} ${this.name} ACQUIRE -> ${JSON.stringify(reply).slice(0, 40)}`);
      return reply;
    });
  }

  /** A request over the link: run on Redis when it arrives, its reply delivered when it comes back (or never). */
  #roundTrip<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fault = this.faults.shift() ?? 'ok';
      if (fault === 'reset') {
        this.clock.setTimeout(() => this.deliver(() => reject(new Error('Connection is closed.'))), 1);
        return;
      }
      if (this.down || fault === 'lose-request') {
        this.stats.lost++;
        return; // never arrives, never answered: the caller's bound decides
      }
      const there = fault === 'late-request' ? this.lateMs + this.#delay() : this.#delay();
      this.clock.setTimeout(() => {
        if (fault === 'late-request') this.stats.late++;
        let reply: { ok: true; value: T } | { ok: false; error: unknown };
        try {
          reply = { ok: true, value: run() };
        } catch (error) {
          reply = { ok: false, error };
        }
        if (this.down || fault === 'lose-reply') {
          this.stats.lost++;
          return; // it ran; the reply is lost
        }
        const back = fault === 'late-reply' ? this.lateMs + this.#delay() : this.#delay();
        this.clock.setTimeout(() => this.deliver(() => (reply.ok ? resolve(reply.value) : reject(reply.error))), back);
      }, there);
    });
  }
}

/** The part of fengari's API used here (it ships no types). */
interface FengariModule {
  lua: {
    lua_newtable(L: LuaState): void;
    lua_pushjsfunction(L: LuaState, fn: (L: LuaState) => number): void;
    lua_setfield(L: LuaState, index: number, key: Uint8Array): void;
    lua_setglobal(L: LuaState, name: Uint8Array): void;
    lua_gettop(L: LuaState): number;
    lua_tolstring(L: LuaState, index: number): Uint8Array;
    lua_createtable(L: LuaState, arrayItems: number, fields: number): void;
    lua_pushboolean(L: LuaState, value: boolean): void;
    lua_pushinteger(L: LuaState, value: number): void;
    lua_pushstring(L: LuaState, value: Uint8Array): void;
    lua_rawseti(L: LuaState, index: number, position: number): void;
    lua_rawgeti(L: LuaState, index: number, position: number): void;
    lua_pcall(L: LuaState, args: number, results: number, handler: number): number;
    lua_pop(L: LuaState, count: number): void;
    lua_type(L: LuaState, index: number): number;
    lua_tonumber(L: LuaState, index: number): number;
    lua_toboolean(L: LuaState, index: number): boolean;
    LUA_TNUMBER: number;
    LUA_TSTRING: number;
    LUA_TTABLE: number;
    LUA_TBOOLEAN: number;
    LUA_TNIL: number;
    LUA_REGISTRYINDEX: number;
  };
  lauxlib: { luaL_newstate(): LuaState; luaL_loadstring(L: LuaState, source: Uint8Array): number; luaL_ref(L: LuaState, table: number): number };
  lualib: { luaL_openlibs(L: LuaState): void };
}

type LuaState = object;
