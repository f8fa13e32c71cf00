using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace LoraBuild.Analyzers;

/// <summary>
/// LBA0001: an implicit conversion of a number to a TorchSharp <c>Scalar</c> (or <c>Tensor</c>) (<c>x * 0.5</c>, <c>x.add(1)</c>). The
/// Scalar it makes is reachable only through the raw handle TorchSharp passes to libtorch, so the GC may finalize it —
/// freeing the native value — while libtorch still reads it. Own it instead: <c>using var half = 0.5.ToScalar();</c>.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ImplicitNativeScalarAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "LBA0001";

    static readonly DiagnosticDescriptor Rule = new(Id,
        "A TorchSharp Scalar made by implicit conversion has no owner",
        "'{0}' becomes a TorchSharp Scalar that nothing owns; the GC can free it while libtorch reads it. Create it with ToScalar() under 'using' (docs/native.md).",
        "Reliability", DiagnosticSeverity.Error, isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            var tensor = start.Compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor");
            if (scalar is null) return;
            start.RegisterOperationAction(operation =>
            {
                var conversion = (IConversionOperation)operation.Operation;
                if (!conversion.IsImplicit || conversion.OperatorMethod is null) return;
                // A number made into a Tensor implicitly has the same problem (a finalizable handle nothing holds).
                if (!SymbolEqualityComparer.Default.Equals(conversion.Type, scalar) && !SymbolEqualityComparer.Default.Equals(conversion.Type, tensor)) return;
                operation.ReportDiagnostic(Diagnostic.Create(Rule, conversion.Operand.Syntax.GetLocation(), conversion.Operand.Syntax.ToString()));
            }, OperationKind.Conversion);
        });
    }
}
