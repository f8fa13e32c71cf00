using System.Globalization;
using System.Security;
using System.Text;

namespace LoraBuild.Training;

/// <summary>The training loss curve as a small self-contained SVG, for the model card.</summary>
public static class LossCurve
{
    public static string Svg(IReadOnlyList<LossPoint> curve, string title)
    {
        const int width = 640, height = 320, left = 60, right = 20, top = 30, bottom = 40;
        var inv = CultureInfo.InvariantCulture;
        var svg = new StringBuilder();
        svg.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(inv, $"<text x=\"{width / 2}\" y=\"18\" text-anchor=\"middle\">training loss — {SecurityElement.Escape(title)}</text>\n");
        var points = curve.Where(p => double.IsFinite(p.Loss)).ToList();
        if (points.Count > 0)
        {
            double minStep = points[0].Step, maxStep = Math.Max(points[^1].Step, minStep + 1);
            double minLoss = points.Min(p => p.Loss), maxLoss = points.Max(p => p.Loss);
            if (maxLoss - minLoss < 1e-9) maxLoss = minLoss + 1;
            double X(double step) => left + (step - minStep) / (maxStep - minStep) * (width - left - right);
            double Y(double loss) => top + (maxLoss - loss) / (maxLoss - minLoss) * (height - top - bottom);
            svg.Append(inv, $"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"black\"/>\n");
            svg.Append(inv, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"black\"/>\n");
            svg.Append(inv, $"<text x=\"{left - 6}\" y=\"{top + 4}\" text-anchor=\"end\">{maxLoss:0.###}</text>\n");
            svg.Append(inv, $"<text x=\"{left - 6}\" y=\"{height - bottom}\" text-anchor=\"end\">{minLoss:0.###}</text>\n");
            svg.Append(inv, $"<text x=\"{left}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{minStep:0}</text>\n");
            svg.Append(inv, $"<text x=\"{width - right}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{maxStep:0}</text>\n");
            svg.Append(inv, $"<text x=\"{width / 2}\" y=\"{height - 8}\" text-anchor=\"middle\">step</text>\n");
            svg.Append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
            foreach (var p in points) svg.Append(inv, $"{X(p.Step):0.#},{Y(p.Loss):0.#} ");
            svg.Append("\"/>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
