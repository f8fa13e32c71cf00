using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace LoraBuild.Analyzers;

/// <summary>
/// LBA0002: a call into a TorchSharp member that makes a Scalar internally and leaves it to the finalizer
/// (<c>a + b</c> passes an alpha of 1, <c>x * 0.5</c> converts 0.5, <c>x.add_(y)</c>). The list is an IL scan of
/// TorchSharp (TorchSharpUnownedScalars.txt). Use the overload that takes an owned Scalar: <c>a.add(b, OwnedScalars.One)</c>.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class UnownedScalarCallAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "LBA0002";

    static readonly DiagnosticDescriptor Rule = new(Id,
        "A TorchSharp member makes a Scalar that nothing owns",
        "TorchSharp's {0} makes a Scalar internally that nothing owns; the GC can free it while libtorch reads it. Call an overload that takes an owned Scalar (OwnedScalars, docs/native.md).",
        "Reliability", DiagnosticSeverity.Error, isEnabledByDefault: true);

    static readonly ImmutableHashSet<string> Members = Load();

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterOperationAction(c => Check(c, ((IInvocationOperation)c.Operation).TargetMethod), OperationKind.Invocation);
        context.RegisterOperationAction(c => Check(c, ((IBinaryOperation)c.Operation).OperatorMethod), OperationKind.Binary);
        context.RegisterOperationAction(c => Check(c, ((IUnaryOperation)c.Operation).OperatorMethod), OperationKind.Unary);
        context.RegisterOperationAction(c => Check(c, ((ICompoundAssignmentOperation)c.Operation).OperatorMethod), OperationKind.CompoundAssignment);
        context.RegisterOperationAction(c => Check(c, ((IObjectCreationOperation)c.Operation).Constructor), OperationKind.ObjectCreation);
        context.RegisterOperationAction(c => Check(c, ((IPropertyReferenceOperation)c.Operation).Property.GetMethod), OperationKind.PropertyReference);
    }

    static void Check(OperationAnalysisContext context, IMethodSymbol? method)
    {
        if (method is null) return;
        var original = method.ReducedFrom ?? method.OriginalDefinition;
        if (original.ContainingAssembly?.Name != "TorchSharp") return;
        var key = TypeName(original.ContainingType) + "|" + original.MetadataName + "|" + string.Join(",", original.Parameters.Select(p => SimpleName(p.Type)));
        if (Members.Contains(key))
            context.ReportDiagnostic(Diagnostic.Create(Rule, context.Operation.Syntax.GetLocation(), original.ContainingType.Name + "." + original.Name));
    }

    static string TypeName(INamedTypeSymbol type) =>
        type.ContainingType is { } outer ? TypeName(outer) + "+" + type.MetadataName
        : (type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() + "." : "") + type.MetadataName;

    static string SimpleName(ITypeSymbol type) => type switch
    {
        IArrayTypeSymbol array => SimpleName(array.ElementType) + "[]",
        IPointerTypeSymbol pointer => SimpleName(pointer.PointedAtType) + "*",
        _ => type.MetadataName,
    };

    static ImmutableHashSet<string> Load()
    {
        using var stream = typeof(UnownedScalarCallAnalyzer).Assembly.GetManifestResourceStream("TorchSharpUnownedScalars.txt");
        if (stream is null) return ImmutableHashSet<string>.Empty;
        using var reader = new StreamReader(stream);
        var members = new List<string>();
        string? line;
        while ((line = reader.ReadLine()) is not null)
            if (line.Length > 0 && line[0] != '#') members.Add(line.Trim());
        return members.ToImmutableHashSet();
    }
}
