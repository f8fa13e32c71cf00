using LoraBuild.Adapters;
using LoraBuild.Runtime.Chat;
using Microsoft.Extensions.AI;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers one <see cref="AdapterHost"/> (loaded on first use, disposed with the container), an <see cref="IChatClient"/>
/// over it, and a keyed <see cref="IChatClient"/> per adapter name (and <c>base</c>) whose default model is that adapter:
/// <c>[FromKeyedServices("speller")] IChatClient speller</c>. With no base folder (<c>null</c>) the host loads the Hub base
/// the adapters record (<see cref="LoraBuild.Runtime.AdapterHost.Load(IEnumerable{AdapterSource}, LoraBuild.Runtime.HostOptions?)"/>).
/// </summary>
public static class LoraBuildChatClientServiceCollectionExtensions
{
    public static IServiceCollection AddLoraBuildChatClient(this IServiceCollection services, string? baseModelDirectory,
        IEnumerable<AdapterSource>? adapters = null, Action<LoraBuildChatClientOptions>? configure = null, LoraBuild.Runtime.HostOptions? hostOptions = null)
    {
        var sources = (adapters ?? LoraBuild.Runtime.AdapterHost.DiscoverAdapters()).ToList();
        services.AddSingleton(_ => baseModelDirectory is null
            ? LoraBuild.Runtime.AdapterHost.Load(sources, hostOptions)
            : LoraBuild.Runtime.AdapterHost.Load(baseModelDirectory, sources, hostOptions));
        services.AddSingleton<IChatClient>(provider => new LoraBuildChatClient(provider.GetRequiredService<LoraBuild.Runtime.AdapterHost>(), Options(configure, null)));
        foreach (var name in sources.Select(s => s.Name).Append(LoraBuild.Runtime.AdapterHost.BaseOnly).Distinct(StringComparer.Ordinal))
            services.AddKeyedSingleton<IChatClient>(name, (provider, _) =>
                new LoraBuildChatClient(provider.GetRequiredService<LoraBuild.Runtime.AdapterHost>(), Options(configure, name)));
        return services;
    }

    static LoraBuildChatClientOptions Options(Action<LoraBuildChatClientOptions>? configure, string? adapter)
    {
        var options = new LoraBuildChatClientOptions();
        configure?.Invoke(options);
        if (adapter is not null) options.DefaultModelId = adapter;
        return options;
    }
}
