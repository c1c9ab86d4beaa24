using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Fulfillment.DevBroker;

/// <summary>
/// Forwards every connection accepted on 127.0.0.1:<see cref="Port"/> to one upstream endpoint (a mock broker's
/// kernel-chosen listener), so the broker can be reached on a fixed, documented port.
/// Each direction is one async loop moving whatever a receive returns (up to 256 KiB) in one send: no per-byte work,
/// no extra copies beyond the kernel's, Nagle off so small Kafka requests are not delayed.
/// </summary>
internal sealed class TcpForwarder : IDisposable
{
    private const int BufferSize = 256 * 1024;

    private readonly IPEndPoint _upstream;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Socket> _open = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    public TcpForwarder(int port, IPEndPoint upstream)
    {
        _upstream = upstream;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Lets a restarted broker rebind while old connections linger in TIME_WAIT; an active listener still conflicts.
            _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            _listener.Listen(128);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }

        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The fixed port this forwarder listens on.</summary>
    public int Port { get; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (!Track(client) || !Track(upstream))
        {
            Close(client);
            Close(upstream);
            return;
        }

        try
        {
            client.NoDelay = true;
            upstream.NoDelay = true;
            await upstream.ConnectAsync(_upstream, _stop.Token);
            // Kafka never half-closes, so the first direction to end ends the connection.
            await Task.WhenAny(PumpAsync(client, upstream), PumpAsync(upstream, client));
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The peer went away or we are stopping; closing both sides below is all there is to do.
        }
        finally
        {
            Close(client);
            Close(upstream);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                var sent = 0;
                while (sent < read)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Connection ended.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private bool Track(Socket socket)
    {
        lock (_open)
        {
            return _disposed == 0 && _open.Add(socket);
        }
    }

    private void Close(Socket socket)
    {
        lock (_open)
        {
            _open.Remove(socket);
        }

        socket.Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _listener.Dispose();
        Socket[] open;
        lock (_open)
        {
            open = [.. _open];
            _open.Clear();
        }

        foreach (var socket in open)
        {
            socket.Dispose();
        }

        _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
