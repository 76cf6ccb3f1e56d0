/** Types of setups.mjs (plain JavaScript so the benchmark servers run without a TypeScript loader). */
import type { RequestListener } from "node:http";

export interface Built {
  listener: RequestListener;
  headers: Record<string, string>;
  notes?: string;
  close?: () => unknown;
}

export interface Setup {
  name: string;
  label: string;
  diagnostic?: boolean;
  build: () => Promise<Built>;
}

export declare const SETUPS: Setup[];
export declare function listen(built: Built): Promise<{ port: number; close: () => Promise<void> }>;
