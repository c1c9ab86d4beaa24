using System.Net;
using System.Net.Sockets;

namespace Fulfillment.Testing;

/// <summary>Ports for tests that must pass a fixed port to a process (prefer port 0 wherever the server allows it).</summary>
public static class FreePorts
{
    /// <summary>The first of <paramref name="count"/> consecutive loopback ports that were all free when asked.
    /// Another process may still take one before it is used; the ranges come from the kernel's ephemeral range, which
    /// keeps them away from the embedded stack's fixed ports.</summary>
    public static int ConsecutiveRange(int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            int start;
            using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                start = ((IPEndPoint)probe.LocalEndPoint!).Port;
            }

            if (start + count <= 65535 && Enumerable.Range(start, count).All(IsFree))
            {
                return start;
            }
        }

        throw new InvalidOperationException($"No {count} consecutive free loopback ports found.");
    }

    /// <summary>Whether a listener could bind 127.0.0.1:<paramref name="port"/> right now.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
