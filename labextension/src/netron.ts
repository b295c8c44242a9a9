/**
 * The Netron viewer tab: a DocumentWidget whose content is an iframe of edgelab's Netron page.
 *
 * The `.onnx` file type uses a model factory with `fileFormat = null`, so JupyterLab never
 * downloads the model itself; the iframe fetches it once through edgelab/api/model/<path>.
 */
import { ABCWidgetFactory, DocumentRegistry, DocumentWidget, TextModelFactory } from '@jupyterlab/docregistry';
import { Contents } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { netronUrl } from './api';

export const FACTORY = 'Netron';
export const MODEL_NAME = 'edgelab-no-content';

/** A model factory that asks the contents API for metadata only (no base64 download). */
export class NoContentModelFactory extends TextModelFactory {
  constructor() {
    super(false);
  }
  get name(): string {
    return MODEL_NAME;
  }
  get fileFormat(): Contents.FileFormat {
    return null;
  }
}

/** The iframe holding Netron's viewer, and a message bar for a model Netron cannot read. */
export class NetronPanel extends Widget {
  constructor() {
    super();
    this.addClass('jp-edgelab-netron');
    this.banner = document.createElement('div');
    this.banner.className = 'jp-edgelab-netron-error';
    this.banner.setAttribute('role', 'alert');
    this.banner.hidden = true;
    this.iframe = document.createElement('iframe');
    this.iframe.className = 'jp-edgelab-netron-frame';
    this.iframe.title = 'Netron model graph';
    this.iframe.referrerPolicy = 'no-referrer';
    this.iframe.addEventListener('load', () => this._watch());
    this.node.append(this.banner, this.iframe);
  }

  show_(path: string): void {
    this._path = path;
    this.banner.hidden = true;
    this.iframe.src = netronUrl(path);
  }

  dispose(): void {
    this._observer?.disconnect();
    super.dispose();
  }

  /** Netron signals its state with classes on its <body>: 'alert' is an error message. */
  private _watch(): void {
    this._observer?.disconnect();
    const doc = this.iframe.contentDocument; // same origin: edgelab serves Netron itself
    if (!doc?.body) {
      return;
    }
    const check = (): void => {
      if (doc.body.classList.contains('alert')) {
        const reason = (doc.getElementById('message-text')?.textContent?.trim() || 'unknown error').replace(/\.+$/, '');
        this.banner.textContent = `Netron cannot read ${this._path}: ${reason}. Is it a complete model file in a format Netron supports (ONNX, TFLite, …)?`;
        this.banner.hidden = false;
      } else if (doc.body.classList.contains('default')) {
        this.banner.hidden = true;
      }
    };
    this._observer = new MutationObserver(check);
    this._observer.observe(doc.body, { attributes: true, attributeFilter: ['class'] });
    check();
  }

  readonly banner: HTMLDivElement;
  readonly iframe: HTMLIFrameElement;
  private _path = '';
  private _observer: MutationObserver | null = null;
}

export class NetronViewer extends DocumentWidget<NetronPanel> {}

export class NetronFactory extends ABCWidgetFactory<NetronViewer, DocumentRegistry.IModel> {
  protected createNewWidget(context: DocumentRegistry.Context): NetronViewer {
    const content = new NetronPanel();
    const widget = new NetronViewer({ content, context });
    widget.addClass('jp-edgelab-netron-viewer');
    content.show_(context.localPath);
    context.pathChanged.connect(() => content.show_(context.localPath));
    return widget;
  }
}
