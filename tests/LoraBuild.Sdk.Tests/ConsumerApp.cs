namespace LoraBuild.Sdk.Tests;

/// <summary>A console app outside the repository that references LoraBuild.Runtime and an adapter package from the test feed.</summary>
public static class ConsumerApp
{
    /// <summary>Creates the app's folder (own NuGet.config with a private packages folder, Consumer.csproj) and returns it.</summary>
    public static string Create(RuntimeFeed runtime, string adapterPackageId, string adapterVersion = "2.1.0")
    {
        var app = Path.Combine(Path.GetTempPath(), "lorabuild-consumer-tests", Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(app);
        var packages = Path.Combine(app, ".packages");
        File.WriteAllText(Path.Combine(app, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{packages}" /></config>
              <packageSources>
                <add key="local" value="{runtime.Directory}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="LoraBuild.Runtime" Version="{runtime.Version}" />
                <PackageReference Include="{adapterPackageId}" Version="{adapterVersion}" />
              </ItemGroup>
            </Project>
            """);
        return app;
    }
}
