using System.Text;

namespace Fulfillment.Processors.Inventory.Domain;

/// <summary>
/// Allocation: eligible locations, then the channel's ordered rule chain, then a location-id tiebreak.
/// <list type="bullet">
/// <item>A single eligible location that can ship everything the order still needs always wins over a split,
/// whatever the chain; the chain orders the single-location candidates.</item>
/// <item>Otherwise, when the channel allows splits: with MinimiseSplits in the chain, a greedy set cover — repeatedly
/// take the location that covers the most remaining units (ties by chain order). Greedy is not always optimal
/// but is within ln(n) of the fewest locations and, with a handful of locations per pool, nearly always optimal.
/// Without MinimiseSplits, locations are filled in chain order.</item>
/// <item>No split allowed: the order stays at the location it already holds stock at, or takes what the best
/// candidate has; the rest is backordered and waits for stock there.</item>
/// <item>Whatever is still short is backordered, unless the pool allows oversell (then it is allocated beyond stock
/// at the best candidate).</item>
/// </list>
/// Bundle lines consume their components; all lines of the order draw from one running availability per
/// location, so lines sharing a component are summed before availability is checked (medusa#16502).
/// </summary>
public sealed partial class InventoryDecider
{
    private enum Excluded
    {
        No,
        AfnOwnSite,
        FbaForMerchant,
        NotMapped,
        ExcludedByRule,
        Inactive,
        NotServed,
        Overweight,
    }

    private struct Candidate
    {
        public int Location;
        public int Covered;
        public bool Full;
        public bool Used;
        public int Rank;
        public int Tier;
        public double Distance;
        public long Stock;
        public bool Taken;
    }

    private Candidate[] _cands = new Candidate[8];
    private readonly List<(int Location, Excluded Why)> _excluded = [];
    // Distinct components of the order's short lines and their running availability at one location. Needs only
    // shrink during one allocation, so every line still short later was prepared here.
    private int[] _comp = new int[16];
    private int[] _avail = new int[16];
    private int _compCount;
    private readonly StringBuilder _sb = new();
    private string? _backorderReason;
    /// <summary>Sites that held the order before an edit released it; they count as "already holds the order".</summary>
    private readonly List<int> _held = [];

    private static int OrderWeight(Order order)
    {
        long grams = 0;
        foreach (var line in order.Lines)
        {
            grams += (long)line.WeightGrams * line.Quantity;
        }

        return (int)Math.Min(grams, int.MaxValue);
    }

    private static Excluded Exclusion(Order order, ChannelConfig channel, LocationState loc, int weight)
    {
        if (order.Mode == FulfillmentMode.Amazon)
        {
            if (loc.Kind != LocationKind.AmazonFba)
            {
                return Excluded.AfnOwnSite;
            }
        }
        else if (loc.Kind == LocationKind.AmazonFba)
        {
            return Excluded.FbaForMerchant;
        }

        if (!channel.IsMapped(loc.Index))
        {
            return Excluded.NotMapped;
        }

        if (channel.Routing.IsExcluded(loc.Index))
        {
            return Excluded.ExcludedByRule;
        }

        if (!loc.Active)
        {
            return Excluded.Inactive;
        }

        if (!loc.Serves(order.ShipTo))
        {
            return Excluded.NotServed;
        }

        return loc.MaxOrderWeightGrams is { } max && weight > max ? Excluded.Overweight : Excluded.No;
    }

    private void PrepareComponents(Order order)
    {
        _compCount = 0;
        foreach (var line in order.Lines)
        {
            if (line.Need <= 0)
            {
                continue;
            }

            foreach (var comp in line.Components)
            {
                if (Array.IndexOf(_comp, comp.Sku, 0, _compCount) < 0)
                {
                    if (_compCount == _comp.Length)
                    {
                        Array.Resize(ref _comp, _compCount * 2);
                        Array.Resize(ref _avail, _compCount * 2);
                    }

                    _comp[_compCount++] = comp.Sku;
                }
            }
        }
    }

    /// <summary>Units of the order's remaining need a location can cover, lines drawing from one running stock.</summary>
    private int Coverage(Order order, int location, bool apply, out long stock)
    {
        stock = 0;
        for (var k = 0; k < _compCount; k++)
        {
            var free = Math.Max(0, _s.Available(_comp[k], location));
            _avail[k] = free;
            stock += free;
        }

        var covered = 0;
        foreach (var line in order.Lines)
        {
            var need = line.Need;
            if (need <= 0)
            {
                continue;
            }

            var units = need;
            var comps = line.Components;
            for (var i = 0; i < comps.Length; i++)
            {
                units = Math.Min(units, _avail[Array.IndexOf(_comp, comps[i].Sku, 0, _compCount)] / comps[i].Quantity);
            }

            if (units > 0)
            {
                for (var i = 0; i < comps.Length; i++)
                {
                    _avail[Array.IndexOf(_comp, comps[i].Sku, 0, _compCount)] -= units * comps[i].Quantity;
                }

                if (apply)
                {
                    Take(line, location, units);
                }

                covered += units;
            }
        }

        return covered;
    }

    private void Take(OrderLine line, int location, int units)
    {
        foreach (var comp in line.Components)
        {
            var cell = _s.Cell(comp.Sku, location);
            cell.Allocated += units * comp.Quantity;
            Touch(cell);
        }

        var at = IndexOfAllocation(line, location);
        if (at < 0)
        {
            line.Allocations.Add(new LocQty(location, units));
        }
        else
        {
            var entry = line.Allocations[at];
            entry.Quantity += units;
            line.Allocations[at] = entry;
        }

        line.AllocatedTotal += units;
    }

    private int Compare(in Candidate a, in Candidate b, RoutingRule[] chain, out int decidedBy)
    {
        for (var i = 0; i < chain.Length; i++)
        {
            var r = chain[i] switch
            {
                RoutingRule.MinimiseSplits => a.Full != b.Full ? (a.Full ? -1 : 1)
                    : a.Used != b.Used ? (a.Used ? -1 : 1)
                    : b.Covered.CompareTo(a.Covered),
                RoutingRule.ChannelRanking => a.Rank.CompareTo(b.Rank),
                RoutingRule.Proximity => a.Tier != b.Tier ? a.Tier.CompareTo(b.Tier) : a.Distance.CompareTo(b.Distance),
                RoutingRule.StockBalance => b.Stock.CompareTo(a.Stock),
                _ => 0,
            };
            if (r != 0)
            {
                decidedBy = i;
                return r;
            }
        }

        decidedBy = -1;
        return string.CompareOrdinal(_s.Locations[a.Location].Id, _s.Locations[b.Location].Id);
    }

    /// <summary>
    /// Proximity: great-circle distance when both ends have coordinates (tier 0); otherwise same region (1),
    /// same country (2), elsewhere (3). Locations without coordinates rank after those with them.
    /// </summary>
    private static void Proximity(ShipTo to, LocationState loc, out int tier, out double km)
    {
        if (to.Geo is { } a && loc.Geo is { } b)
        {
            tier = 0;
            km = Geo.HaversineKm(a, b);
            return;
        }

        km = 0;
        tier = loc.Country.Length > 0 && loc.Country == to.Country
            ? (to.Region is not null && loc.Region == to.Region ? 1 : 2)
            : 3;
    }

    /// <summary>Allocates the order's remaining need. Returns whether any allocation changed.</summary>
    private bool AllocateRemaining(Order order, List<string> trail, string trigger, bool quiet)
    {
        _backorderReason = null;
        var totalNeed = order.TotalNeed();
        if (totalNeed <= 0)
        {
            trail.Add($"{trigger}: nothing left to allocate");
            return false;
        }

        var channel = PoolState.ConfigFor(order);
        var routing = channel.Routing;
        var chain = routing.Chain;
        // Require full availability: one location ships everything the order still needs, or nothing is allocated.
        var requireFull = routing.RequireFull;
        var allowSplit = !requireFull && (routing.AllowSplit ?? _s.AllowSplit);
        var weight = OrderWeight(order);
        PrepareComponents(order);
        var locations = _s.Locations;
        if (_cands.Length < locations.Count)
        {
            _cands = new Candidate[locations.Count * 2];
        }

        _excluded.Clear();
        var n = 0;
        var anyCoverage = false;
        for (var l = 0; l < locations.Count; l++)
        {
            var loc = locations[l];
            var why = Exclusion(order, channel, loc, weight);
            if (why != Excluded.No)
            {
                _excluded.Add((l, why));
                continue;
            }

            ref var c = ref _cands[n++];
            c.Location = l;
            c.Covered = Coverage(order, l, apply: false, out c.Stock);
            c.Full = c.Covered == totalNeed;
            c.Used = order.Uses(l) || _held.Contains(l);
            c.Rank = channel.RankOf(loc);
            Proximity(order.ShipTo, loc, out c.Tier, out c.Distance);
            c.Taken = false;
            anyCoverage |= requireFull ? c.Full : c.Covered > 0;
        }

        // Backorder fill attempts that cannot change anything leave no trace.
        if (quiet && !anyCoverage && !(_s.AllowOversell && n > 0))
        {
            return false;
        }

        for (var i = 1; i < n; i++)
        {
            var c = _cands[i];
            var j = i - 1;
            while (j >= 0 && Compare(_cands[j], c, chain, out _) > 0)
            {
                _cands[j + 1] = _cands[j];
                j--;
            }

            _cands[j + 1] = c;
        }

        trail.Add($"{trigger}: {totalNeed} unit(s) to allocate, channel {channel.Name}{(order.ShopId is null ? "" : $" shop {order.ShopId}{(channel.Shop is null ? " (channel-wide settings)" : "")}")}, {(order.Mode == FulfillmentMode.Amazon ? "AFN" : "MFN")}, ship to {order.ShipTo.Country}{(order.ShipTo.Region is null ? "" : "/" + order.ShipTo.Region)}");
        DescribeEligibility(trail, n);
        if (n == 0)
        {
            _backorderReason = order.Mode == FulfillmentMode.Amazon
                ? "no eligible FBA location; AFN orders are never allocated to own sites"
                : "no eligible location";
            trail.Add($"backordered {totalNeed} unit(s): {_backorderReason}");
            return false;
        }

        DescribeRules(trail, n, chain, channel);
        var shipComplete = _s.Backorders == BackorderPolicy.ShipComplete && !_s.AllowOversell;
        if (shipComplete)
        {
            SaveAllocations(order);
        }

        var changed = false;
        var first = -1;
        if (requireFull)
        {
            first = RequireFull(order, n, chain, totalNeed, trail, out changed);
        }
        else if (!allowSplit && FirstUsed(order) is var pinned && pinned >= 0)
        {
            var at = -1;
            for (var i = 0; i < n; i++)
            {
                if (_cands[i].Location == pinned)
                {
                    at = i;
                }
            }

            var pinnedId = locations[pinned].Id;
            if (at < 0)
            {
                trail.Add($"split not allowed: the order is held at {pinnedId}, which is no longer eligible");
            }
            else
            {
                first = at;
                var units = Coverage(order, pinned, apply: true, out _);
                changed = units > 0;
                trail.Add($"split not allowed: {units} unit(s) added at {pinnedId}, where the order is held");
            }
        }
        else
        {
            var full = -1;
            for (var i = 0; i < n && full < 0; i++)
            {
                if (_cands[i].Full)
                {
                    full = i;
                }
            }

            if (full >= 0)
            {
                first = full;
                Coverage(order, _cands[full].Location, apply: true, out _);
                changed = true;
                trail.Add(Decision(full, n, chain, totalNeed));
            }
            else if (allowSplit)
            {
                changed = Split(order, n, chain, trail, ref first);
            }
            else
            {
                for (var i = 0; i < n && first < 0; i++)
                {
                    if (_cands[i].Covered > 0)
                    {
                        first = i;
                    }
                }

                if (first >= 0)
                {
                    var units = Coverage(order, _cands[first].Location, apply: true, out _);
                    changed = true;
                    trail.Add($"no single location can ship everything and the channel does not allow splits: {units} unit(s) at {locations[_cands[first].Location].Id}");
                }
                else
                {
                    first = 0;
                }
            }
        }

        var left = order.TotalNeed();
        if (left > 0 && _s.AllowOversell && first >= 0)
        {
            var loc = _cands[first].Location;
            foreach (var line in order.Lines)
            {
                if (line.Need > 0)
                {
                    Take(line, loc, line.Need);
                }
            }

            changed = true;
            trail.Add($"oversell allowed for this pool: {left} unit(s) allocated beyond stock at {locations[loc].Id}");
        }
        else if (left > 0 && shipComplete && changed)
        {
            UndoAllocationPass();
            changed = false;
            _backorderReason = "ship complete: the order waits until all of it can be allocated";
            trail.Add($"ship complete: only {totalNeed - left} of {totalNeed} unit(s) could be allocated, so none were; backordered {totalNeed} unit(s)");
        }
        else if (left > 0)
        {
            _backorderReason = requireFull
                ? "require full availability: no single eligible location can ship the whole order"
                : shipComplete
                ? "ship complete: the order waits until all of it can be allocated"
                : order.Mode == FulfillmentMode.Amazon
                ? "FBA stock short; AFN orders are never allocated to own sites"
                : !allowSplit && anyCoverage ? "insufficient stock at a single location and splits are not allowed" : "insufficient stock at eligible locations";
            trail.Add($"backordered {left} unit(s): {_backorderReason}");
        }

        return changed;
    }

    // Allocations of the order before an allocation pass, and how many cells were touched, so a ShipComplete pass
    // that cannot allocate everything is undone without a trace (no level change is reported for it).
    private readonly List<(OrderLine Line, int Total, LocQty[] Entries)> _saved = [];
    private int _savedTouched;

    private void SaveAllocations(Order order)
    {
        _saved.Clear();
        foreach (var line in order.Lines)
        {
            _saved.Add((line, line.AllocatedTotal, [.. line.Allocations]));
        }

        _savedTouched = _touched.Count;
    }

    private void UndoAllocationPass()
    {
        foreach (var (line, total, entries) in _saved)
        {
            foreach (var a in line.Allocations)
            {
                var before = 0;
                foreach (var e in entries)
                {
                    before += e.Location == a.Location ? e.Quantity : 0;
                }

                // Only adds happen in a pass, so the difference is what this pass took.
                foreach (var comp in line.Components)
                {
                    _s.Cell(comp.Sku, a.Location).Allocated -= (a.Quantity - before) * comp.Quantity;
                }
            }

            line.Allocations.Clear();
            line.Allocations.AddRange(entries);
            line.AllocatedTotal = total;
        }

        // Cells first touched by the undone pass are back where they were: no level change to report.
        for (var i = _savedTouched; i < _touched.Count; i++)
        {
            _touched[i].TouchedAt = -1;
        }

        _touched.RemoveRange(_savedTouched, _touched.Count - _savedTouched);
        _saved.Clear();
    }

    /// <summary>
    /// Require full availability: the best location (by the chain) that can ship everything the order still needs
    /// takes it; with none, nothing is allocated and the order waits whole (under oversell it goes whole to the best
    /// candidate). Returns the candidate the order went to, or -1.
    /// </summary>
    private int RequireFull(Order order, int n, RoutingRule[] chain, int totalNeed, List<string> trail, out bool changed)
    {
        for (var i = 0; i < n; i++)
        {
            if (_cands[i].Full)
            {
                Coverage(order, _cands[i].Location, apply: true, out _);
                changed = true;
                trail.Add("require full availability: only a location that can ship the whole order is eligible");
                trail.Add(Decision(i, n, chain, totalNeed));
                return i;
            }
        }

        changed = false;
        trail.Add("require full availability: no eligible location can ship the whole order; nothing allocated, no split");
        return _s.AllowOversell ? 0 : -1;
    }

    private int FirstUsed(Order order)
    {
        foreach (var line in order.Lines)
        {
            if (line.Allocations.Count > 0)
            {
                return line.Allocations[0].Location;
            }
        }

        return _held.Count > 0 ? _held[0] : -1;
    }

    private bool Split(Order order, int n, RoutingRule[] chain, List<string> trail, ref int first)
    {
        var greedy = Array.IndexOf(chain, RoutingRule.MinimiseSplits) >= 0;
        var sb = _sb.Clear();
        var parts = 0;
        while (order.TotalNeed() > 0)
        {
            var best = -1;
            var bestCovered = 0;
            for (var i = 0; i < n; i++)
            {
                if (_cands[i].Taken)
                {
                    continue;
                }

                var covered = Coverage(order, _cands[i].Location, apply: false, out _);
                if (covered > bestCovered)
                {
                    best = i;
                    bestCovered = covered;
                    if (!greedy)
                    {
                        break;
                    }
                }
            }

            if (best < 0)
            {
                break;
            }

            _cands[best].Taken = true;
            Coverage(order, _cands[best].Location, apply: true, out _);
            if (first < 0)
            {
                first = best;
            }

            sb.Append(parts++ == 0 ? "" : ", ").Append(_s.Locations[_cands[best].Location].Id).Append(" ×").Append(bestCovered);
        }

        if (parts == 0)
        {
            first = 0;
            return false;
        }

        trail.Add(parts == 1
            ? $"no location has everything; partial allocation at {sb}"
            : $"no single location can ship everything; split across {parts} locations ({(greedy ? "fewest locations, greedy" : "chain order")}): {sb}");
        return true;
    }

    private string Decision(int chosen, int n, RoutingRule[] chain, int units)
    {
        var id = _s.Locations[_cands[chosen].Location].Id;
        var runnerUp = -1;
        for (var i = 0; i < n && runnerUp < 0; i++)
        {
            if (i != chosen && _cands[i].Full)
            {
                runnerUp = i;
            }
        }

        if (runnerUp < 0)
        {
            return $"{id} is the only eligible location that can ship all {units} unit(s): allocated there";
        }

        Compare(_cands[chosen], _cands[runnerUp], chain, out var decidedBy);
        var rule = decidedBy < 0 ? "location id tiebreak" : RuleName(chain[decidedBy]);
        return $"{id} ships all {units} unit(s); chosen over {_s.Locations[_cands[runnerUp].Location].Id} by {rule}";
    }

    private static string RuleName(RoutingRule rule) => rule switch
    {
        RoutingRule.MinimiseSplits => "minimise splits",
        RoutingRule.ChannelRanking => "channel ranking",
        RoutingRule.Proximity => "proximity",
        RoutingRule.StockBalance => "stock balance",
        _ => rule.ToString(),
    };

    private static string ExclusionText(Excluded why) => why switch
    {
        Excluded.AfnOwnSite => "own site; AFN orders ship from FBA only",
        Excluded.FbaForMerchant => "FBA stock serves AFN orders only",
        Excluded.NotMapped => "not mapped to the channel",
        Excluded.ExcludedByRule => "excluded by routing rule",
        Excluded.Inactive => "inactive",
        Excluded.NotServed => "does not serve the destination",
        Excluded.Overweight => "order over the weight limit",
        _ => why.ToString(),
    };

    private void DescribeEligibility(List<string> trail, int n)
    {
        var sb = _sb.Clear().Append("eligible: ");
        for (var i = 0; i < n; i++)
        {
            sb.Append(i == 0 ? "" : ", ").Append(_s.Locations[_cands[i].Location].Id);
        }

        if (n == 0)
        {
            sb.Append("none");
        }

        if (_excluded.Count > 0)
        {
            sb.Append("; excluded: ");
            for (var i = 0; i < _excluded.Count; i++)
            {
                sb.Append(i == 0 ? "" : ", ").Append(_s.Locations[_excluded[i].Location].Id).Append(" (").Append(ExclusionText(_excluded[i].Why)).Append(')');
            }
        }

        trail.Add(sb.ToString());
    }

    private void DescribeRules(List<string> trail, int n, RoutingRule[] chain, ChannelConfig channel)
    {
        foreach (var rule in chain)
        {
            var sb = _sb.Clear().Append(RuleName(rule)).Append(": ");
            for (var i = 0; i < n; i++)
            {
                ref var c = ref _cands[i];
                sb.Append(i == 0 ? "" : ", ").Append(_s.Locations[c.Location].Id).Append(' ');
                switch (rule)
                {
                    case RoutingRule.MinimiseSplits:
                        sb.Append(c.Full ? "all" : c.Covered.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(c.Used ? " (holds order)" : "");
                        break;
                    case RoutingRule.ChannelRanking:
                        if (channel.Routing.Ranking is null)
                        {
                            sb.Append("priority ").Append(c.Rank);
                        }
                        else if (c.Rank == int.MaxValue)
                        {
                            sb.Append("unranked");
                        }
                        else
                        {
                            sb.Append('#').Append(c.Rank + 1);
                        }

                        break;
                    case RoutingRule.Proximity:
                        if (c.Tier == 0)
                        {
                            sb.Append((long)Math.Round(c.Distance)).Append(" km");
                        }
                        else
                        {
                            sb.Append(c.Tier switch
                            {
                                1 => "same region",
                                2 => "same country",
                                _ => "other country",
                            });
                        }
                        break;
                    case RoutingRule.StockBalance:
                        sb.Append(c.Stock).Append(" free");
                        break;
                }
            }

            trail.Add(sb.ToString());
        }

        var order = _sb.Clear().Append("order after rules and location-id tiebreak: ");
        for (var i = 0; i < n; i++)
        {
            order.Append(i == 0 ? "" : " > ").Append(_s.Locations[_cands[i].Location].Id);
        }

        trail.Add(order.ToString());
    }
}

internal static class Geo
{
    private const double EarthRadiusKm = 6371.0088;

    public static double HaversineKm(GeoPoint a, GeoPoint b)
    {
        const double rad = Math.PI / 180;
        var dLat = (b.Latitude - a.Latitude) * rad;
        var dLon = (b.Longitude - a.Longitude) * rad;
        var h = (Math.Sin(dLat / 2) * Math.Sin(dLat / 2))
            + (Math.Cos(a.Latitude * rad) * Math.Cos(b.Latitude * rad) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2));
        return 2 * EarthRadiusKm * Math.Asin(Math.Min(1, Math.Sqrt(h)));
    }
}
