/** edgelab's icons (plain SVG that follows the theme's icon colours). */
import { LabIcon } from '@jupyterlab/ui-components';

const graphSvg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
  <g class="jp-icon3" fill="#616161">
    <circle cx="12" cy="4" r="2.6"/><circle cx="5" cy="19" r="2.6"/><circle cx="19" cy="19" r="2.6"/>
    <rect x="11.2" y="6" width="1.6" height="6"/><rect x="5.8" y="11.2" width="12.4" height="1.6"/>
    <rect x="4.2" y="12" width="1.6" height="5"/><rect x="18.2" y="12" width="1.6" height="5"/>
  </g>
</svg>`;

export const graphIcon = new LabIcon({ name: 'edgelab:graph', svgstr: graphSvg });
