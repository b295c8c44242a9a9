/**
 * edgelab for JupyterLab: open `.onnx` files in Netron, a sidebar of runs and their reports,
 * palette commands and a launcher card for the workbench notebook.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IFrame } from '@jupyterlab/ui-components';

import { IRun, reportUrl } from './api';
import { graphIcon } from './icons';
import { FACTORY, MODEL_NAME, NetronFactory, NetronViewer, NoContentModelFactory } from './netron';
import { RunsPanel } from './sidebar';

const WORKBENCH_SOURCE = 'import edgelab as el\nel.Workbench()';

namespace CommandIDs {
  export const openWorkbench = 'edgelab:open-workbench';
  export const viewGraph = 'edgelab:view-model-graph';
  export const openReport = 'edgelab:open-report';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'edgelab:plugin',
  description: 'Netron model viewer, runs sidebar and workbench launcher for edgelab.',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, ILayoutRestorer, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null,
    browser: IDefaultFileBrowser | null
  ) => {
    const { commands, docRegistry, serviceManager } = app;

    // --- .onnx files open in Netron (double-click and Open With) ---
    docRegistry.addModelFactory(new NoContentModelFactory());
    docRegistry.addFileType({
      name: 'onnx',
      displayName: 'ONNX model',
      extensions: ['.onnx'],
      mimeTypes: ['application/octet-stream'],
      contentType: 'file',
      fileFormat: null,
      icon: graphIcon
    });
    const factory = new NetronFactory({
      name: FACTORY,
      label: 'Netron (model graph)',
      modelName: MODEL_NAME,
      fileTypes: ['onnx'],
      defaultFor: ['onnx'],
      readOnly: true
    });
    docRegistry.addWidgetFactory(factory);
    const viewers = new WidgetTracker<NetronViewer>({ namespace: 'edgelab-netron' });
    factory.widgetCreated.connect((_, widget) => {
      widget.title.icon = graphIcon;
      void viewers.add(widget);
      widget.context.pathChanged.connect(() => void viewers.save(widget));
    });
    if (restorer) {
      void restorer.restore(viewers, {
        command: 'docmanager:open',
        args: w => ({ path: w.context.path, factory: FACTORY }),
        name: w => w.context.path
      });
    }

    // --- report tabs ---
    const reports = new WidgetTracker<MainAreaWidget<IFrame>>({ namespace: 'edgelab-report' });
    commands.addCommand(CommandIDs.openReport, {
      label: args => `edgelab report ${(args.label as string) ?? args.id}`,
      execute: args => {
        const id = String(args.id);
        const existing = reports.find(w => w.id === `edgelab-report-${id}`);
        if (existing) {
          app.shell.activateById(existing.id);
          return existing;
        }
        const frame = new IFrame({ sandbox: ['allow-scripts', 'allow-popups'], referrerPolicy: 'no-referrer' });
        frame.url = reportUrl(id);
        frame.addClass('jp-edgelab-report');
        const widget = new MainAreaWidget({ content: frame });
        widget.id = `edgelab-report-${id}`;
        widget.title.label = `Report: ${(args.label as string) ?? id}`;
        widget.title.icon = graphIcon;
        widget.title.closable = true;
        void reports.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        return widget;
      }
    });
    if (restorer) {
      void restorer.restore(reports, {
        command: CommandIDs.openReport,
        args: w => ({ id: w.id.replace(/^edgelab-report-/, ''), label: w.title.label.replace(/^Report: /, '') }),
        name: w => w.id
      });
    }

    // --- sidebar of runs ---
    const panel = new RunsPanel((run: IRun) =>
      void commands.execute(CommandIDs.openReport, { id: run.id, label: run.model_name })
    );
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, 'edgelab-runs');
    }

    // --- palette commands and launcher card ---
    commands.addCommand(CommandIDs.openWorkbench, {
      label: args => (args.isLauncher ? 'Workbench' : 'edgelab: open workbench notebook'),
      caption: 'Create a notebook with the edgelab workbench (import edgelab as el; el.Workbench())',
      icon: args => (args.isLauncher ? graphIcon : undefined),
      execute: async () => {
        const cwd = browser?.model.path ?? '';
        const kernel = serviceManager.kernelspecs.specs?.default ?? 'python3';
        const model = await serviceManager.contents.newUntitled({ path: cwd, type: 'notebook' });
        await serviceManager.contents.save(model.path, {
          type: 'notebook',
          format: 'json',
          content: {
            cells: [{ cell_type: 'code', source: WORKBENCH_SOURCE, metadata: {}, outputs: [], execution_count: null }],
            metadata: { kernelspec: { name: kernel, display_name: kernel, language: 'python' } },
            nbformat: 4,
            nbformat_minor: 5
          }
        });
        return commands.execute('docmanager:open', { path: model.path, factory: 'Notebook', kernel: { name: kernel } });
      }
    });

    commands.addCommand(CommandIDs.viewGraph, {
      label: 'edgelab: view model graph',
      caption: 'Open an ONNX model in the Netron viewer',
      icon: args => (args.isPalette ? undefined : graphIcon),
      execute: async args => {
        let path = args.path as string | undefined;
        if (!path && browser) {
          const selected = Array.from(browser.selectedItems()).find(item => item.path.endsWith('.onnx'));
          path = selected?.path;
        }
        if (!path) {
          const result = await InputDialog.getText({
            title: 'View model graph',
            label: 'Path of an .onnx file (relative to the server root)',
            placeholder: PathExt.join(browser?.model.path ?? '', 'model.onnx')
          });
          path = result.button.accept ? result.value?.trim() : undefined;
        }
        if (path) {
          return commands.execute('docmanager:open', { path, factory: FACTORY });
        }
      }
    });

    if (palette) {
      palette.addItem({ command: CommandIDs.openWorkbench, category: 'edgelab' });
      palette.addItem({ command: CommandIDs.viewGraph, category: 'edgelab', args: { isPalette: true } });
    }
    if (launcher) {
      launcher.add({ command: CommandIDs.openWorkbench, category: 'edgelab', rank: 0, args: { isLauncher: true } });
    }
    app.contextMenu.addItem({ command: CommandIDs.viewGraph, selector: '.jp-DirListing-item[data-file-type="onnx"]', rank: 1 });
  }
};

export default plugin;
