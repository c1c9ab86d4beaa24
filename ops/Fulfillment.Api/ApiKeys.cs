using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Fulfillment.Api;

/// <summary>The caller, resolved from its API key.</summary>
public sealed record Tenant(string Name, IReadOnlySet<string> Pools)
{
    public bool Owns(string pool) => Pools.Contains(pool);
}

/// <summary>Resolves <c>X-Api-Key</c> to a tenant by comparing SHA-256 hashes in constant time.</summary>
public sealed class ApiKeys(IOptions<ApiOptions> options)
{
    public const string Header = "X-Api-Key";

    private readonly List<(byte[] Hash, Tenant Tenant)> _tenants = options.Value.Tenants
        .Select(t => (Convert.FromHexString(t.KeySha256), new Tenant(t.Name, t.Pools.ToHashSet(StringComparer.Ordinal))))
        .ToList();

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public Tenant? Resolve(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return null;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        Tenant? found = null;
        foreach (var (candidate, tenant) in _tenants)
        {
            // Check every entry: the time taken must not reveal which tenant (if any) was close.
            if (CryptographicOperations.FixedTimeEquals(candidate, hash))
            {
                found = tenant;
            }
        }

        return found;
    }
}

/// <summary>Endpoint filter: 401 without a valid key; the tenant is then available via <see cref="TenantOf"/>.</summary>
public static class ApiKeyFilter
{
    private const string Item = "fulfillment.tenant";

    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var keys = context.HttpContext.RequestServices.GetRequiredService<ApiKeys>();
            var tenant = keys.Resolve(context.HttpContext.Request.Headers[ApiKeys.Header].FirstOrDefault());
            if (tenant is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Missing or invalid API key",
                    detail: $"Send the tenant's key in the {ApiKeys.Header} header.");
            }

            context.HttpContext.Items[Item] = tenant;
            return await next(context);
        });

    public static Tenant TenantOf(HttpContext context) =>
        context?.Items[Item] as Tenant ?? throw new InvalidOperationException("Endpoint is missing RequireApiKey().");
}
