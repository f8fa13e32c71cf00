using LoraBuild.IO;
using LoraBuild.Training;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace LoraBuild.Cli.Charts;

/// <summary>
/// The loss curve as the model card shows it: titled by the adapter, training loss per step on a logarithmic axis with
/// 1-2-5 ticks (a linear axis flattens everything after the first steps), evaluation losses as points. OxyPlot draws it:
/// SVG from its managed exporter, PNG (for pages that show no SVG) through SkiaSharp.
/// </summary>
public sealed class LossChart : ILossChart
{
    public const string PngFile = RunLayout.LossCurvePngFile;
    const int Width = 720, Height = 400;

    public void Write(string outputDirectory, string title, IReadOnlyList<LossPoint> train, IReadOnlyList<EvalPoint> eval)
    {
        var model = Build(title, train, eval);
        AtomicFile.Write(Path.Combine(outputDirectory, Trainer.LossCurveFile), stream => new SvgExporter { Width = Width, Height = Height }.Export(model, stream));
        AtomicFile.Write(Path.Combine(outputDirectory, PngFile), stream => new OxyPlot.SkiaSharp.PngExporter { Width = Width, Height = Height }.Export(model, stream));
    }

    public static PlotModel Build(string title, IReadOnlyList<LossPoint> train, IReadOnlyList<EvalPoint> eval)
    {
        var shown = train.Select(p => p.Loss).Concat(eval.Select(p => p.Loss)).Where(l => l > 0 && double.IsFinite(l)).ToList();
        var model = new PlotModel { Title = title, Subtitle = eval.Count > 0 ? "training loss per step, evaluation loss as points" : "training loss per step", Background = OxyColors.White, PlotAreaBorderColor = OxyColors.Gray };
        model.Axes.Add(new LogarithmicAxis
        {
            Position = AxisPosition.Left, Title = "loss (log scale)",
            // Bounds on the 1-2-5 sequence around the data, so the lowest and highest lines are labelled ticks.
            Minimum = shown.Count > 0 ? Nice(shown.Min(), down: true) : double.NaN,
            Maximum = shown.Count > 0 ? Nice(shown.Max(), down: false) : double.NaN,
            MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = OxyColor.FromRgb(0xdd, 0xdd, 0xdd),
            MinorGridlineStyle = LineStyle.Dot, MinorGridlineColor = OxyColor.FromRgb(0xee, 0xee, 0xee),
        });
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Bottom, Title = "step", MinimumPadding = 0, MaximumPadding = 0.02,
            MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = OxyColor.FromRgb(0xdd, 0xdd, 0xdd),
        });
        var line = new LineSeries { Title = "training loss", Color = OxyColor.FromRgb(0x1f, 0x77, 0xb4), StrokeThickness = 1.5 };
        // A log axis cannot show 0 or a non-finite loss; such steps are left out of the picture (metrics.json has them).
        foreach (var p in train.Where(p => p.Loss > 0 && double.IsFinite(p.Loss))) line.Points.Add(new DataPoint(p.Step, p.Loss));
        model.Series.Add(line);
        var points = eval.Where(p => p.Loss > 0 && double.IsFinite(p.Loss)).ToList();
        if (points.Count > 0)
        {
            var scatter = new ScatterSeries { Title = "eval loss", MarkerType = MarkerType.Circle, MarkerSize = 5, MarkerFill = OxyColor.FromRgb(0xff, 0x7f, 0x0e) };
            foreach (var p in points) scatter.Points.Add(new ScatterPoint(p.Step, p.Loss));
            model.Series.Add(scatter);
        }
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.TopRight, LegendBackground = OxyColor.FromAColor(220, OxyColors.White), LegendBorder = OxyColors.LightGray });
        return model;
    }

    /// <summary>The nearest value of the 1-2-5 sequence (..., 0.1, 0.2, 0.5, 1, 2, 5, 10, ...) below or above a loss.</summary>
    static double Nice(double value, bool down)
    {
        var decade = Math.Pow(10, Math.Floor(Math.Log10(value)));
        double[] steps = down ? [5, 2, 1] : [1, 2, 5, 10];
        foreach (var step in steps)
            if (down ? step * decade <= value : step * decade >= value) return step * decade;
        return down ? decade : 10 * decade;
    }
}
