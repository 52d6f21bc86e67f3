// The parts of Apache ECharts the dashboard draws with: bar and pie charts on
// a canvas, with axes, legends, tooltips and the accessible description
// (aria) that reads each chart out to a screen reader. Only these are
// bundled, so the page loads a fraction of the full library.
//
// The canvas renderer is chosen over SVG because the dashboard's
// Content-Security-Policy forbids inline style attributes, which the SVG
// renderer writes; canvas styles go through the CSSOM only.

import * as echarts from 'echarts/core';
import { BarChart, PieChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, PieChart, AriaComponent, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

globalThis.echarts = echarts;
