namespace Fulfillment.Demo;

/// <summary>A stocking location the demo sets up in every pool.</summary>
public sealed record Site(string Id, string Name, string Kind, string Country, IReadOnlyList<string> CountriesServed, int Priority, string? Provider);

/// <summary>Three own warehouses (two US, one EU) and a 3PL that ships anywhere (a virtual warehouse).</summary>
public static class Sites
{
    public static IReadOnlyList<Site> All { get; } =
    [
        new("wh-east", "East Coast DC (Newark)", "Warehouse", "US", ["US", "CA"], 1, null),
        new("wh-west", "West Coast DC (Reno)", "Warehouse", "US", ["US", "CA"], 2, null),
        new("wh-eu", "EU Hub (Venlo)", "Warehouse", "NL", ["NL", "DE", "FR", "BE"], 3, null),
        // Amazon ORDER_CHANGE carries only a postal code, so only a site serving every country can take those orders.
        new("3pl-shipbob", "ShipBob (3PL)", "ThirdParty", "US", [], 4, "ShipBob"),
    ];

    public static IReadOnlyList<Site> Warehouses { get; } = [.. All.Where(s => s.Kind == "Warehouse")];
}
