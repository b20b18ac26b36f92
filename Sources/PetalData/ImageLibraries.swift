import CPNG
import CTurboJPEG

/// The image libraries this build uses, for `petal doctor` and bug reports.
public enum ImageLibraries {
    /// libjpeg-turbo's version from its headers at build time (LIBJPEG_TURBO_VERSION_NUMBER in
    /// jconfig.h, e.g. 2001005 for 2.1.5): TurboJPEG 2.x has no call that reports it at run time.
    public static var libjpegTurboVersion: String {
        let number = Int(petal_libjpeg_turbo_version_number())
        guard number > 0 else { return "unknown (jconfig.h not found at build time)" }
        return "\(number / 1_000_000).\(number / 1000 % 1000).\(number % 1000)"
    }

    /// libpng's version as the loaded library reports it (png_access_version_number, e.g. 10639).
    public static var libpngVersion: String {
        let number = Int(png_access_version_number())
        return "\(number / 10000).\(number / 100 % 100).\(number % 100)"
    }
}
