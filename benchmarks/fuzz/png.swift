import Foundation

/// PNG decoding as Petal does it: the header alone, then the whole image (alpha composited
/// onto white), resized.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    let path = "fuzz.png"
    let maxPixels = 4_000_000
    _ = bytes.withUnsafeBytes { raw in try? PNGCodec.header(raw, path: path) }
    _ = try? ImageDecoder.decode(bytes, path: path, maxPixels: maxPixels)
    _ = try? ImageDecoder.decode(bytes, path: path, width: 5, height: 7, maxPixels: maxPixels)
    return 0
}
