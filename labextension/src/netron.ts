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

/** The iframe holding Netron's viewer. */
export class NetronPanel extends Widget {
  constructor() {
    super();
    this.addClass('jp-edgelab-netron');
    this.iframe = document.createElement('iframe');
    this.iframe.className = 'jp-edgelab-netron-frame';
    this.iframe.title = 'Netron model graph';
    this.iframe.referrerPolicy = 'no-referrer';
    this.node.appendChild(this.iframe);
  }

  show_(path: string): void {
    this.iframe.src = netronUrl(path);
  }

  readonly iframe: HTMLIFrameElement;
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
