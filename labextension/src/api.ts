/**
 * Client of edgelab's server routes (edgelab/api/...), with Jupyter's auth and XSRF handled
 * by ServerConnection.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IBest {
  id: string;
  recipe: string;
  latency_ms: number | null;
  speedup: number | null;
  accuracy: number | null;
}

export interface IRun {
  id: string;
  created: string;
  model_name: string;
  model_sha256: string;
  host: { cpu?: string; cores?: number } | null;
  n_variants: number;
  best: IBest | null;
  status: string;
}

const settings = (): ServerConnection.ISettings => ServerConnection.makeSettings();

/** Absolute URL of an edgelab route, under the server's base URL. */
export function edgelabUrl(...parts: string[]): string {
  return URLExt.join(settings().baseUrl, 'edgelab', ...parts);
}

async function getJSON<T>(...parts: string[]): Promise<T> {
  const s = settings();
  const response = await ServerConnection.makeRequest(edgelabUrl(...parts), {}, s);
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = (await response.json()).message ?? message;
    } catch {
      // not JSON: keep the status text
    }
    throw new Error(`edgelab server: ${response.status} ${message}`);
  }
  return (await response.json()) as T;
}

export async function listRuns(): Promise<{ runs: IRun[]; latest_change: string }> {
  return getJSON('api', 'runs');
}

export async function latestChange(): Promise<string> {
  return (await getJSON<{ token: string }>('api', 'latest_change')).token;
}

/** URL of a run's report page (the CLI's HTML). */
export function reportUrl(runId: string): string {
  return edgelabUrl('api', 'runs', encodeURIComponent(runId), 'report.html');
}

/** URL of Netron's viewer page loading the model at `path` (relative to the server root). */
export function netronUrl(path: string): string {
  const model = edgelabUrl('api', 'model', URLExt.encodeParts(path));
  return `${edgelabUrl('netron', 'index.html')}?url=${encodeURIComponent(model)}`;
}
