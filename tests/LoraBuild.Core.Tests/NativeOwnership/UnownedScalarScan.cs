using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace LoraBuild.Tests.NativeOwnership;

/// <summary>
/// Reads TorchSharp.dll's IL and lists its public members that make a Scalar (an implicit conversion or ToScalar) and
/// never dispose it — directly or through the members they call — in the analyzer's format: type|member|parameter types.
/// </summary>
public static class UnownedScalarScan
{
    public static SortedSet<string> Members(string assemblyPath)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var metadata = pe.GetMetadataReader();
        var callers = new Dictionary<int, HashSet<int>>();
        var creators = new HashSet<int>();
        foreach (var typeHandle in metadata.TypeDefinitions)
        foreach (var methodHandle in metadata.GetTypeDefinition(typeHandle).GetMethods())
        {
            var method = metadata.GetMethodDefinition(methodHandle);
            if (method.RelativeVirtualAddress == 0) continue;
            var self = MetadataTokens.GetToken(methodHandle);
            var (creates, disposes) = (false, false);
            foreach (var callee in Calls(pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader()))
            {
                var (type, name, definition) = Target(metadata, callee);
                if (type == "TorchSharp.Scalar" && name == "op_Implicit") creates = true;
                if (type.EndsWith("ScalarExtensionMethods", StringComparison.Ordinal) && name.StartsWith("To", StringComparison.Ordinal) && name.Contains("Scalar")) creates = true;
                if (type == "TorchSharp.Scalar" && name == "Dispose") disposes = true;
                if (definition is { } d)
                {
                    if (!callers.TryGetValue(d, out var set)) callers[d] = set = [];
                    set.Add(self);
                }
            }
            if (creates && !disposes) creators.Add(self);
        }

        var reached = new HashSet<int>(creators);
        var pending = new Queue<int>(creators);
        while (pending.TryDequeue(out var next))
            if (callers.TryGetValue(next, out var set))
                foreach (var caller in set)
                    if (reached.Add(caller)) pending.Enqueue(caller);

        var result = new SortedSet<string>(StringComparer.Ordinal);
        var names = new SimpleNames(metadata);
        foreach (var typeHandle in metadata.TypeDefinitions)
        foreach (var methodHandle in metadata.GetTypeDefinition(typeHandle).GetMethods())
        {
            var method = metadata.GetMethodDefinition(methodHandle);
            if ((method.Attributes & System.Reflection.MethodAttributes.MemberAccessMask) != System.Reflection.MethodAttributes.Public) continue;
            if (!reached.Contains(MetadataTokens.GetToken(methodHandle))) continue;
            var signature = method.DecodeSignature(names, null);
            result.Add(FullName(metadata, metadata.GetTypeDefinition(typeHandle)) + "|" + metadata.GetString(method.Name) + "|" + string.Join(",", signature.ParameterTypes));
        }
        return result;
    }

    /// <summary>The call and callvirt targets of a method body.</summary>
    static List<EntityHandle> Calls(BlobReader il)
    {
        var calls = new List<EntityHandle>();
        while (il.RemainingBytes > 0)
        {
            int first = il.ReadByte();
            var code = first == 0xFE ? (ILOpCode)(0xFE00 | il.ReadByte()) : (ILOpCode)first;
            if (code is ILOpCode.Call or ILOpCode.Callvirt) { calls.Add(MetadataTokens.EntityHandle(il.ReadInt32())); continue; }
            if (code == ILOpCode.Switch) { il.Offset += 4 * il.ReadInt32(); continue; }
            il.Offset += OperandSize(code);
        }
        return calls;
    }

    static int OperandSize(ILOpCode code) => code switch
    {
        ILOpCode.Ldc_i8 or ILOpCode.Ldc_r8 => 8,
        ILOpCode.Ldc_i4_s or ILOpCode.Br_s or ILOpCode.Brfalse_s or ILOpCode.Brtrue_s or ILOpCode.Beq_s or ILOpCode.Bge_s or ILOpCode.Bgt_s
            or ILOpCode.Ble_s or ILOpCode.Blt_s or ILOpCode.Bne_un_s or ILOpCode.Bge_un_s or ILOpCode.Bgt_un_s or ILOpCode.Ble_un_s
            or ILOpCode.Blt_un_s or ILOpCode.Leave_s or ILOpCode.Ldarg_s or ILOpCode.Ldarga_s or ILOpCode.Starg_s or ILOpCode.Ldloc_s
            or ILOpCode.Ldloca_s or ILOpCode.Stloc_s or ILOpCode.Unaligned => 1,
        ILOpCode.Ldarg or ILOpCode.Ldarga or ILOpCode.Starg or ILOpCode.Ldloc or ILOpCode.Ldloca or ILOpCode.Stloc => 2,
        ILOpCode.Newobj or ILOpCode.Ldftn or ILOpCode.Ldvirtftn or ILOpCode.Ldsfld or ILOpCode.Ldfld or ILOpCode.Stfld or ILOpCode.Stsfld
            or ILOpCode.Ldflda or ILOpCode.Ldsflda or ILOpCode.Ldtoken or ILOpCode.Box or ILOpCode.Unbox or ILOpCode.Unbox_any
            or ILOpCode.Castclass or ILOpCode.Isinst or ILOpCode.Newarr or ILOpCode.Ldelema or ILOpCode.Ldelem or ILOpCode.Stelem
            or ILOpCode.Initobj or ILOpCode.Constrained or ILOpCode.Sizeof or ILOpCode.Ldobj or ILOpCode.Stobj or ILOpCode.Cpobj
            or ILOpCode.Mkrefany or ILOpCode.Refanyval or ILOpCode.Ldstr or ILOpCode.Calli or ILOpCode.Jmp or ILOpCode.Ldc_i4
            or ILOpCode.Ldc_r4 or ILOpCode.Br or ILOpCode.Brfalse or ILOpCode.Brtrue or ILOpCode.Beq or ILOpCode.Bge or ILOpCode.Bgt
            or ILOpCode.Ble or ILOpCode.Blt or ILOpCode.Bne_un or ILOpCode.Bge_un or ILOpCode.Bgt_un or ILOpCode.Ble_un
            or ILOpCode.Blt_un or ILOpCode.Leave => 4,
        _ => 0,
    };

    static (string Type, string Name, int? Definition) Target(MetadataReader metadata, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
                var method = metadata.GetMethodDefinition((MethodDefinitionHandle)handle);
                return (FullName(metadata, metadata.GetTypeDefinition(method.GetDeclaringType())), metadata.GetString(method.Name), MetadataTokens.GetToken(handle));
            case HandleKind.MemberReference:
                var member = metadata.GetMemberReference((MemberReferenceHandle)handle);
                var parent = member.Parent.Kind switch
                {
                    HandleKind.TypeDefinition => FullName(metadata, metadata.GetTypeDefinition((TypeDefinitionHandle)member.Parent)),
                    HandleKind.TypeReference => metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)member.Parent).Namespace) + "." +
                                                metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)member.Parent).Name),
                    _ => "",
                };
                return (parent, metadata.GetString(member.Name), null);
            case HandleKind.MethodSpecification:
                return Target(metadata, metadata.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
            default:
                return ("", "", null);
        }
    }

    static string FullName(MetadataReader metadata, TypeDefinition type)
    {
        var name = metadata.GetString(type.Name);
        var outer = type.GetDeclaringType();
        return outer.IsNil ? metadata.GetString(type.Namespace) + "." + name : FullName(metadata, metadata.GetTypeDefinition(outer)) + "+" + name;
    }

    /// <summary>Parameter types by simple metadata name (Double, Tensor, Nullable`1, Int64[]), as the analyzer writes them.</summary>
    sealed class SimpleNames(MetadataReader metadata) : ISignatureTypeProvider<string, object?>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeDefinition(handle).Name);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeReference(handle).Name);
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[]";
        public string GetByReferenceType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => genericType;
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);
    }
}
