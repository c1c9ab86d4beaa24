using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>Fetches an order a thin notification only named (<see cref="DeliveryResult.Fetch"/>) from the channel's API.</summary>
public interface IOrderFetcher
{
    Channel Channel { get; }

    /// <summary>The order, normalized like a webhook order; null when the channel says it does not exist.</summary>
    Task<ChannelOrder?> FetchAsync(DeliveryContext context, OrderFetchRequest request, CancellationToken cancellationToken);
}
