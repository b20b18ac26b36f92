import Foundation

/// Petal's one JSON configuration, for every file it writes and reads (run folders, model
/// metadata, `--json` and `--json-lines` output, the server's answers): sorted keys, so output
/// has a stable order, and non-finite numbers as the strings "nan", "inf" and "-inf" (JSON has
/// none; a diverged phase's loss must still save).
public enum PetalJSON {
    public static let nonFinite = (positive: "inf", negative: "-inf", nan: "nan")

    /// An encoder with sorted keys; `pretty` for files people read, compact for one-line output.
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                                          : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
        return encoder
    }

    /// A decoder that reads what `encoder` writes, non-finite numbers included.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
        return decoder
    }

    /// `value` as JSON bytes (pretty, sorted keys).
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
        try encoder(pretty: pretty).encode(value)
    }

    /// `value` as one line of compact JSON (sorted keys), for `--json-lines` and logs.
    public static func line<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder(pretty: false).encode(value), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder().decode(type, from: data)
    }
}
