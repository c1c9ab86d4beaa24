using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Avro.Specific;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Microsoft.Extensions.Options;

namespace Fulfillment.Api;

public sealed record SkuLine(string? Sku, int Quantity);

public sealed record ReceiveStock(string? LocationId, string? ReceiptId, List<SkuLine>? Lines);

public sealed record AdjustStock(string? LocationId, string? Reason, string? Note, List<SkuLine>? Lines);

public sealed record CountStock(string? LocationId, string? CountId, List<SkuLine>? Lines);

public sealed record CreateTransfer(string? TransferId, string? FromLocationId, string? ToLocationId, List<SkuLine>? Lines);

public sealed record ShipTransfer(string? FromLocationId, string? ToLocationId, List<SkuLine>? Lines, string? Carrier, string? TrackingNumber);

public sealed record ReceivedLine(string? Sku, int ShippedQuantity, int ReceivedQuantity);

public sealed record ReceiveTransfer(string? FromLocationId, string? ToLocationId, List<ReceivedLine>? Lines);

public sealed record ShipmentLineRequest(string? LineId, string? Sku, int Quantity);

public sealed record ShipConfirmation(
    string? ShipmentId, string? OrderId, string? Channel, string? ShopId, string? ChannelOrderId, string? LocationId,
    string? Carrier, string? Service, string? TrackingNumber, string? TrackingUrl, List<ShipmentLineRequest>? Lines);

public sealed record UpsertLocation(
    string? Name, string? Kind, bool Active, string? CountryCode, List<string>? CountriesServed, int Priority, string? Provider);

public sealed record RoutingRuleRequest(string? Kind, List<string>? LocationIds, Dictionary<string, string>? Parameters);

public sealed record SetRoutingRules(string? Channel, string? ShopId, List<RoutingRuleRequest>? Rules, bool AllowSplit = true);

public sealed record SetSafetyStock(string? Sku, string? LocationId, int Quantity);

public sealed record DefineBundle(List<SkuLine>? Components);

/// <summary>Body-less DELETE, hashed for the idempotency check like any other request.</summary>
public sealed record RemoveBundle(string BundleSku);

public sealed record SetChannelLocations(string? Channel, string? ShopId, List<string>? LocationIds);

public sealed record SetPoolSettings(bool? AllowOversell, bool? AllowSplit, string? BackorderPolicy);

/// <summary>202 body: the id to follow.</summary>
public sealed record CommandAccepted(string CommandId, string Status, string Location);

/// <summary>
/// Operator commands under <c>/pools/{pool}/…</c>: validated (400 problem details with field errors), authorised per pool
/// (403 for a pool the key does not own), stored and produced as events (202 + Location of the command).
/// </summary>
public static class CommandEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static void MapCommandEndpoints(this IEndpointRouteBuilder app)
    {
        var pools = app.MapGroup("/pools/{pool}").RequireApiKey().WithTags("Commands");

        pools.MapPost("/stock/receive", (string pool, ReceiveStock body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "StockReceived", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Required("locationId", body.LocationId);
                v.Lines("lines", body.Lines, q => q > 0, "must be positive");
            }, id => Command(id, pool, body.LocationId!, publisher.Now, new StockReceived
            {
                location_id = body.LocationId, receipt_id = body.ReceiptId, lines = SkuQuantities(body.Lines!),
            }), ct, naturalId: () => body.ReceiptId is { Length: > 0 } r ? $"receipt {r}" : null));

        pools.MapPost("/stock/adjust", (string pool, AdjustStock body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "StockAdjusted", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Required("locationId", body.LocationId);
                v.Enum<AdjustmentReason>("reason", body.Reason);
                v.Lines("lines", body.Lines, q => q != 0, "must not be zero (signed delta)");
            }, id => Command(id, pool, body.LocationId!, publisher.Now, new StockAdjusted
            {
                location_id = body.LocationId, reason_code = Enum.Parse<AdjustmentReason>(body.Reason!, true), note = body.Note,
                lines = SkuQuantities(body.Lines!),
            }), ct));

        pools.MapPost("/stock/count", (string pool, CountStock body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "StockCounted", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Required("locationId", body.LocationId);
                v.Lines("lines", body.Lines, q => q >= 0, "must not be negative (absolute on-hand)");
            }, id => Command(id, pool, body.LocationId!, publisher.Now, new StockCounted
            {
                location_id = body.LocationId, count_id = body.CountId, lines = SkuQuantities(body.Lines!),
            }), ct, naturalId: () => body.CountId is { Length: > 0 } c ? $"count {c}" : null));

        pools.MapPost("/transfers", (string pool, CreateTransfer body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "TransferRequested", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Route("fromLocationId", body.FromLocationId, "toLocationId", body.ToLocationId);
                v.Lines("lines", body.Lines, q => q > 0, "must be positive");
            }, id =>
            {
                var transferId = body.TransferId is { Length: > 0 } t ? t : "tr-" + id[4..];
                return Command(id, pool, transferId, publisher.Now, new TransferRequested
                {
                    transfer_id = transferId, from_location_id = body.FromLocationId, to_location_id = body.ToLocationId,
                    lines = SkuQuantities(body.Lines!),
                });
            }, ct, naturalId: () => body.TransferId is { Length: > 0 } t ? $"transfer {t} request" : null));

        pools.MapPost("/transfers/{transferId}/ship", (string pool, string transferId, ShipTransfer body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "TransferShipped", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Route("fromLocationId", body.FromLocationId, "toLocationId", body.ToLocationId);
                v.Lines("lines", body.Lines, q => q > 0, "must be positive");
            }, id => Command(id, pool, transferId, publisher.Now, new TransferShipped
            {
                transfer_id = transferId, from_location_id = body.FromLocationId, to_location_id = body.ToLocationId,
                lines = SkuQuantities(body.Lines!), carrier = body.Carrier, tracking_number = body.TrackingNumber,
            }), ct, naturalId: () => $"transfer {transferId} shipment"));

        pools.MapPost("/transfers/{transferId}/receive", (string pool, string transferId, ReceiveTransfer body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "TransferReceived", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Route("fromLocationId", body.FromLocationId, "toLocationId", body.ToLocationId);
                if (body.Lines is not { Count: > 0 })
                {
                    v.Add("lines", "at least one line is required");
                }
                else
                {
                    for (var i = 0; i < body.Lines.Count; i++)
                    {
                        v.Required($"lines[{i}].sku", body.Lines[i].Sku);
                        v.Check(body.Lines[i].ShippedQuantity >= 0, $"lines[{i}].shippedQuantity", "must not be negative");
                        v.Check(body.Lines[i].ReceivedQuantity >= 0, $"lines[{i}].receivedQuantity", "must not be negative");
                    }
                }
            }, id => Command(id, pool, transferId, publisher.Now, new TransferReceived
            {
                transfer_id = transferId, from_location_id = body.FromLocationId, to_location_id = body.ToLocationId,
                lines = [.. body.Lines!.Select(l => new TransferReceivedLine { sku = l.Sku, shipped_quantity = l.ShippedQuantity, received_quantity = l.ReceivedQuantity })],
            }), ct, naturalId: () => $"transfer {transferId} receipt"));

        pools.MapPost("/shipments", (string pool, ShipConfirmation body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "ShipmentConfirmed", o.Value.ShipmentsTopic, body, v =>
            {
                v.Required("orderId", body.OrderId);
                v.Enum<Channel>("channel", body.Channel);
                v.Required("shopId", body.ShopId);
                v.Required("channelOrderId", body.ChannelOrderId);
                v.Required("locationId", body.LocationId);
                v.Required("carrier", body.Carrier);
                v.Required("trackingNumber", body.TrackingNumber);
                if (body.TrackingUrl is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
                {
                    v.Add("trackingUrl", "must be an absolute URL");
                }

                if (body.Lines is not { Count: > 0 })
                {
                    v.Add("lines", "at least one line is required");
                }
                else
                {
                    for (var i = 0; i < body.Lines.Count; i++)
                    {
                        v.Required($"lines[{i}].lineId", body.Lines[i].LineId);
                        v.Required($"lines[{i}].sku", body.Lines[i].Sku);
                        v.Check(body.Lines[i].Quantity > 0, $"lines[{i}].quantity", "must be positive");
                    }
                }
            }, id =>
            {
                var shipmentId = body.ShipmentId is { Length: > 0 } s ? s : "shp-" + id[4..];
                return new ShipmentEvent
                {
                    metadata = CommandPublisher.Metadata(id, pool, body.OrderId!, publisher.Now),
                    body = new ShipmentConfirmed
                    {
                        shipment_id = shipmentId, order_id = body.OrderId, channel = Enum.Parse<Channel>(body.Channel!, true),
                        shop_id = body.ShopId, channel_order_id = body.ChannelOrderId, location_id = body.LocationId,
                        carrier = body.Carrier, service = body.Service, tracking_number = body.TrackingNumber, tracking_url = body.TrackingUrl,
                        lines = [.. body.Lines!.Select(l => new ShipmentLine { line_id = l.LineId, sku = l.Sku, quantity = l.Quantity })],
                    },
                };
            }, ct, naturalId: () => body.ShipmentId is { Length: > 0 } x ? $"shipment {x}" : null));

        pools.MapPut("/locations/{locationId}", (string pool, string locationId, UpsertLocation body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "LocationUpserted", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Required("name", body.Name);
                v.Enum<LocationKind>("kind", body.Kind);
                v.Country("countryCode", body.CountryCode, optional: true);
                for (var i = 0; i < (body.CountriesServed?.Count ?? 0); i++)
                {
                    v.Country($"countriesServed[{i}]", body.CountriesServed![i], optional: false);
                }
            }, id => Command(id, pool, locationId, publisher.Now, new LocationUpserted
            {
                location_id = locationId, name = body.Name, kind = Enum.Parse<LocationKind>(body.Kind!, true), active = body.Active,
                address = new Address { country_code = body.CountryCode?.ToUpperInvariant() },
                countries_served = [.. (body.CountriesServed ?? []).Select(c => c.ToUpperInvariant())], priority = body.Priority,
                provider = body.Provider,
            }), ct));

        pools.MapPut("/routing-rules", (string pool, SetRoutingRules body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "RoutingRulesSet", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Enum<Channel>("channel", body.Channel);
                if (body.Rules is not { Count: > 0 })
                {
                    v.Add("rules", "at least one rule is required");
                }
                else
                {
                    for (var i = 0; i < body.Rules.Count; i++)
                    {
                        v.Enum<RoutingRuleKind>($"rules[{i}].kind", body.Rules[i].Kind);
                    }
                }
            }, id => Command(id, pool, $"routing:{body.Channel}:{body.ShopId ?? "*"}", publisher.Now, new RoutingRulesSet
            {
                channel = Enum.Parse<Channel>(body.Channel!, true), shop_id = body.ShopId, allow_split = body.AllowSplit,
                rules = [.. body.Rules!.Select(r => new RoutingRule
                {
                    kind = Enum.Parse<RoutingRuleKind>(r.Kind!, true), location_ids = r.LocationIds ?? [],
                    parameters = r.Parameters ?? new Dictionary<string, string>(),
                })],
            }), ct));

        pools.MapPut("/safety-stock", (string pool, SetSafetyStock body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "SafetyStockSet", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Required("sku", body.Sku);
                v.Check(body.Quantity >= 0, "quantity", "must not be negative");
            }, id => Command(id, pool, body.Sku!, publisher.Now, new SafetyStockSet { sku = body.Sku, location_id = body.LocationId, quantity = body.Quantity }), ct));

        MapPoolSetupCommands(pools);
    }

    private static void MapPoolSetupCommands(RouteGroupBuilder pools)
    {
        pools.MapPut("/bundles/{bundleSku}", (string pool, string bundleSku, DefineBundle body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "BundleDefined", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Lines("components", body.Components, q => q > 0, "must be positive");
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < (body.Components?.Count ?? 0); i++)
                {
                    var sku = body.Components![i].Sku;
                    if (string.IsNullOrWhiteSpace(sku))
                    {
                        continue;
                    }

                    v.Check(sku != bundleSku, $"components[{i}].sku", "must differ from the bundle SKU");
                    v.Check(seen.Add(sku), $"components[{i}].sku", "appears more than once");
                }
            }, id => Command(id, pool, bundleSku, publisher.Now, new BundleDefined
            {
                bundle_sku = bundleSku, components = SkuQuantities(body.Components!),
            }), ct));

        pools.MapDelete("/bundles/{bundleSku}", (string pool, string bundleSku, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "BundleRemoved", o.Value.OperatorCommandsTopic, new RemoveBundle(bundleSku), _ => { },
                id => Command(id, pool, bundleSku, publisher.Now, new BundleRemoved { bundle_sku = bundleSku }), ct));

        pools.MapPut("/channel-locations", (string pool, SetChannelLocations body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "ChannelLocationsSet", o.Value.OperatorCommandsTopic, body, v =>
            {
                v.Enum<Channel>("channel", body.Channel);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < (body.LocationIds?.Count ?? 0); i++)
                {
                    var location = body.LocationIds![i];
                    v.Required($"locationIds[{i}]", location);
                    v.Check(string.IsNullOrWhiteSpace(location) || seen.Add(location), $"locationIds[{i}]", "appears more than once");
                }
            }, id => Command(id, pool, $"channel-locations:{body.Channel}:{body.ShopId ?? "*"}", publisher.Now, new ChannelLocationsSet
            {
                // Null removes the mapping (every location may serve the channel); an empty list means none may.
                channel = Enum.Parse<Channel>(body.Channel!, true), shop_id = body.ShopId, location_ids = body.LocationIds,
            }), ct));

        pools.MapPut("/settings", (string pool, SetPoolSettings body, HttpContext http, CommandPublisher publisher, IOptions<ApiOptions> o, CancellationToken ct) =>
            Handle(http, publisher, pool, "PoolSettingsSet", o.Value.OperatorCommandsTopic, body, v =>
            {
                if (body.BackorderPolicy is not null)
                {
                    v.Enum<BackorderPolicy>("backorderPolicy", body.BackorderPolicy);
                }
            }, id => Command(id, pool, $"settings:{pool}", publisher.Now, new PoolSettingsSet
            {
                // Every field is replaced; omitted ones take the schema's defaults (oversell stays off unless asked for).
                allow_oversell = body.AllowOversell ?? false,
                allow_split = body.AllowSplit ?? true,
                backorder_policy = body.BackorderPolicy is { } policy ? Enum.Parse<BackorderPolicy>(policy, true) : BackorderPolicy.AllocateAvailable,
            }), ct));
    }

    private static OperatorCommand Command(string id, string pool, string correlation, DateTime now, object body) => new()
    {
        metadata = CommandPublisher.Metadata(id, pool, correlation, now),
        body = body,
        issued_by = null,
    };

    private static List<SkuQuantity> SkuQuantities(List<SkuLine> lines) =>
        [.. lines.Select(l => new SkuQuantity { sku = l.Sku, quantity = l.Quantity })];

    private static async Task<IResult> Handle<TBody, TEvent>(
        HttpContext http, CommandPublisher publisher, string pool, string kind, string topic, TBody body,
        Action<Validator> validate, Func<string, TEvent> build, CancellationToken ct, Func<string?>? naturalId = null)
        where TEvent : ISpecificRecord
    {
        var tenant = ApiKeyFilter.TenantOf(http);
        if (!tenant.Owns(pool))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Pool not owned by this API key",
                detail: $"The key of tenant '{tenant.Name}' cannot change pool '{pool}'.");
        }

        if (body is null)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["a JSON body is required"] });
        }

        var validator = new Validator();
        validate(validator);
        if (validator.Errors.Count > 0)
        {
            return Results.ValidationProblem(validator.Errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        }

        // Without a client key, a command that carries its own id (receipt, count, transfer step, shipment) is keyed by
        // it: a client retrying after a timeout or an API crash then gets the same command id, and the retry is a no-op
        // instead of a second command the inventory would refuse as a repeat.
        var clientKey = http.Request.Headers["Idempotency-Key"].FirstOrDefault();
        var derived = clientKey is not { Length: > 0 } && naturalId?.Invoke() is { Length: > 0 } natural ? natural : null;
        var idempotencyKey = derived is null ? clientKey : $"derived:{pool}:{derived}";
        var requestHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{http.Request.Method} {http.Request.Path}\n{JsonSerializer.Serialize(body, Json)}")));
        var id = CommandPublisher.CommandId(tenant.Name, idempotencyKey);
        var accepted = await publisher.PublishAsync(tenant, idempotencyKey, requestHash, id, kind, topic, pool, build(id), ct);
        if (accepted.Conflict)
        {
            return derived is null
                ? Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused",
                    detail: "This Idempotency-Key was already used for a different request.")
                : Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Command id reused",
                    detail: $"{derived} was already used in pool '{pool}' for a different request.");
        }

        var location = $"/commands/{accepted.CommandId}";
        return Results.Accepted(location, new CommandAccepted(accepted.CommandId, accepted.Replayed ? "duplicate" : "accepted", location));
    }
}

/// <summary>Field errors in the shape of RFC 9457 validation problem details.</summary>
public sealed class Validator
{
    public Dictionary<string, List<string>> Errors { get; } = new(StringComparer.Ordinal);

    public void Add(string field, string message)
    {
        if (!Errors.TryGetValue(field, out var list))
        {
            Errors[field] = list = [];
        }

        list.Add(message);
    }

    public void Check(bool ok, string field, string message)
    {
        if (!ok)
        {
            Add(field, message);
        }
    }

    public void Required(string field, string? value) => Check(!string.IsNullOrWhiteSpace(value), field, "is required");

    public void Enum<TEnum>(string field, string? value)
        where TEnum : struct, System.Enum
    {
        if (string.IsNullOrWhiteSpace(value) || !System.Enum.TryParse<TEnum>(value, true, out _) || int.TryParse(value, out _))
        {
            Add(field, $"must be one of {string.Join(", ", System.Enum.GetNames<TEnum>())}");
        }
    }

    public void Country(string field, string? value, bool optional)
    {
        if (string.IsNullOrEmpty(value) ? !optional : value.Length != 2 || !value.All(char.IsAsciiLetter))
        {
            Add(field, "must be an ISO 3166-1 alpha-2 country code");
        }
    }

    public void Route(string fromField, string? from, string toField, string? to)
    {
        Required(fromField, from);
        Required(toField, to);
        if (!string.IsNullOrWhiteSpace(from) && from == to)
        {
            Add(toField, $"must differ from {fromField}");
        }
    }

    public void Lines(string field, List<SkuLine>? lines, Func<int, bool> quantityOk, string quantityMessage)
    {
        if (lines is not { Count: > 0 })
        {
            Add(field, "at least one line is required");
            return;
        }

        for (var i = 0; i < lines.Count; i++)
        {
            Required($"{field}[{i}].sku", lines[i].Sku);
            Check(quantityOk(lines[i].Quantity), $"{field}[{i}].quantity", quantityMessage);
        }
    }
}
