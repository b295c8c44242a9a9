/**
 * The edgelab sidebar: the workspace's runs, newest first, refreshed when a new run lands.
 *
 * Text only goes into the DOM through textContent, so model names and paths are never parsed
 * as HTML. The refresh polls the store's cheap `latest_change` token while the panel is shown.
 */
import { Widget } from '@lumino/widgets';

import { IRun, latestChange, listRuns } from './api';
import { graphIcon } from './icons';

const POLL_MS = 3000;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = cls;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function fmt(value: number | null | undefined, digits: number): string {
  if (typeof value !== 'number' || !isFinite(value)) {
    return '–';
  }
  return Math.abs(value) < 1 && value !== 0 ? value.toPrecision(digits) : value.toFixed(digits);
}

/** One line of headline figures for a run's best variant. */
export function headline(run: IRun): string {
  const b = run.best;
  if (!b) {
    return run.status ? `no result (${run.status})` : 'no result';
  }
  const parts = [b.recipe, `p50 ${fmt(b.latency_ms, 2)} ms`];
  if (typeof b.speedup === 'number') {
    parts.push(`×${fmt(b.speedup, 2)} vs fp32`);
  }
  if (typeof b.accuracy === 'number') {
    parts.push(`acc ${fmt(b.accuracy * (b.accuracy <= 1 ? 100 : 1), 1)}%`);
  }
  return parts.join(' · ');
}

export class RunsPanel extends Widget {
  constructor(private readonly _open: (run: IRun) => void) {
    super();
    this.id = 'edgelab-runs';
    this.addClass('jp-edgelab-runs');
    this.title.icon = graphIcon;
    this.title.caption = 'edgelab runs';
    const header = el('div', 'jp-edgelab-runs-header');
    header.appendChild(el('span', 'jp-edgelab-runs-title', 'edgelab runs'));
    const refresh = el('button', 'jp-edgelab-runs-refresh jp-mod-styled', 'Refresh');
    refresh.title = 'Reload the runs from the results store';
    refresh.addEventListener('click', () => void this.refresh());
    header.appendChild(refresh);
    this._status = el('div', 'jp-edgelab-runs-status');
    this._list = el('ul', 'jp-edgelab-runs-list');
    this.node.append(header, this._status, this._list);
  }

  /** Reload the list from the server. */
  async refresh(): Promise<void> {
    try {
      const { runs, latest_change } = await listRuns();
      this._token = latest_change;
      this._render(runs);
    } catch (e) {
      this._status.textContent = `Cannot load runs: ${(e as Error).message}`;
    }
  }

  protected onAfterShow(): void {
    void this.refresh();
    this._startPolling();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      void this.refresh();
      this._startPolling();
    }
  }

  protected onBeforeHide(): void {
    this._stopPolling();
  }

  protected onBeforeDetach(): void {
    this._stopPolling();
  }

  dispose(): void {
    this._stopPolling();
    super.dispose();
  }

  private _startPolling(): void {
    if (this._timer === null) {
      this._timer = window.setInterval(() => void this._poll(), POLL_MS);
    }
  }

  private _stopPolling(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private async _poll(): Promise<void> {
    if (document.hidden) {
      return;
    }
    try {
      if ((await latestChange()) !== this._token) {
        await this.refresh();
      }
    } catch {
      // server restarting or offline: try again at the next tick
    }
  }

  private _render(runs: IRun[]): void {
    this._status.textContent = runs.length
      ? ''
      : 'No runs yet. Run `edgelab demo` or el.Workbench() in a notebook; results appear here.';
    this._list.replaceChildren(
      ...runs.map(run => {
        const item = el('li', 'jp-edgelab-run');
        item.dataset.runId = run.id;
        item.tabIndex = 0;
        item.title = `Open the report of run ${run.id}`;
        const created = new Date(run.created);
        const host = run.host ? `${run.host.cpu ?? 'unknown CPU'}${run.host.cores ? ` · ${run.host.cores} cores` : ''}` : '';
        item.append(
          el('div', 'jp-edgelab-run-model', run.model_name),
          el('div', 'jp-edgelab-run-date', isNaN(created.getTime()) ? run.created : created.toLocaleString()),
          el('div', 'jp-edgelab-run-host', host),
          el('div', 'jp-edgelab-run-best', headline(run))
        );
        item.addEventListener('click', () => this._open(run));
        item.addEventListener('keydown', ev => {
          if (ev.key === 'Enter') {
            this._open(run);
          }
        });
        return item;
      })
    );
  }

  private _list: HTMLUListElement;
  private _status: HTMLDivElement;
  private _timer: number | null = null;
  private _token: string | null = null;
}
