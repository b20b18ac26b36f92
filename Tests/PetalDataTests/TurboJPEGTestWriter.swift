import CTurboJPEG
import Foundation

/// Writes grayscale and CMYK JPEGs with TurboJPEG, which the public encoder does not.
enum TurboJPEGTestWriter {
    struct Failure: Error { var message: String }

    static func compress(_ pixels: [UInt8], width: Int, height: Int, cmyk: Bool, gray: Bool) throws -> Data {
        guard let handle = tjInitCompress() else { throw Failure(message: "tjInitCompress") }
        defer { tjDestroy(handle) }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let format = cmyk ? TJPF_CMYK : TJPF_RGB
        let samp = gray ? TJSAMP_GRAY : TJSAMP_444
        let status = pixels.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress!, Int32(width), 0, Int32(height), Int32(format.rawValue),
                        &out, &size, Int32(samp.rawValue), 95, 0)
        }
        defer { if let out { tjFree(out) } }
        guard status == 0, let out else { throw Failure(message: String(cString: tjGetErrorStr2(handle))) }
        return Data(bytes: out, count: Int(size))
    }
}
