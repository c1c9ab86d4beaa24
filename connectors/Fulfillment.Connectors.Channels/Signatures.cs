using System.Security.Cryptography;
using System.Text;

namespace Fulfillment.Connectors.Channels;

/// <summary>Signature checks over the raw body bytes, all compared in constant time.</summary>
public static class Signatures
{
    /// <summary>base64(HMAC-SHA256(secret, body)) — Shopify <c>X-Shopify-Hmac-Sha256</c>, WooCommerce <c>X-WC-Webhook-Signature</c>.</summary>
    public static bool VerifyBase64HmacSha256(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> body, string? signature)
    {
        if (string.IsNullOrWhiteSpace(signature))
        {
            return false;
        }

        Span<byte> given = stackalloc byte[64];
        if (!Convert.TryFromBase64String(signature.Trim(), given, out var written) || written != HMACSHA256.HashSizeInBytes)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(secret, body, expected);
        return CryptographicOperations.FixedTimeEquals(expected, given[..written]);
    }

    /// <summary>hex(HMAC-SHA256(key = app secret, message = app key + body)) — TikTok Shop's <c>Authorization</c> header.</summary>
    public static bool VerifyTikTok(ReadOnlySpan<byte> appSecret, string appKey, ReadOnlySpan<byte> body, string? signature)
    {
        if (string.IsNullOrWhiteSpace(signature) || signature.Trim().Length != HMACSHA256.HashSizeInBytes * 2)
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(signature.Trim());
        }
        catch (FormatException)
        {
            return false;
        }

        var prefix = Encoding.UTF8.GetBytes(appKey);
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(appSecret, message, expected);
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>A shared token (e.g. an EventBridge API destination's API key header). Both sides are hashed first so the
    /// comparison takes the same time whatever the lengths.</summary>
    public static bool VerifyToken(ReadOnlySpan<byte> secret, string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return false;
        }

        Span<byte> a = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> b = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(secret, a);
        SHA256.HashData(Encoding.UTF8.GetBytes(token), b);
        return CryptographicOperations.FixedTimeEquals(a, b);
    }

    /// <summary>Fallback dedupe key when a sender gives none: the body's SHA-256.</summary>
    public static string BodyHash(ReadOnlySpan<byte> body) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
}
