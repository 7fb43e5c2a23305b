// P12Client: Java's own KeyStore and JSSE, configured only by otelpki's PKCS#12 files, as a JVM
// application (or the OpenTelemetry Java agent with javax.net.ssl.* properties) would be.
//
//   java P12Client KEYSTORE TRUSTSTORE HOST PORT
//
// The password is read from the environment variable OTELPKI_P12_PASSWORD (never argv).
// Prints what each store holds, then does one mTLS handshake with HOST:PORT (the server's
// name checked as HTTPS does), sends one line and prints "ok". Any failure prints "error ..."
// and exits 1.
import java.io.FileInputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Collections;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class P12Client {
    static KeyStore load(String path, char[] password) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(path)) {
            store.load(in, password);
        }
        for (String alias : Collections.list(store.aliases())) {
            if (store.isKeyEntry(alias)) {
                Certificate[] chain = store.getCertificateChain(alias);
                System.out.println("key-entry " + alias + " chain=" + chain.length + " "
                        + ((X509Certificate) chain[0]).getSubjectX500Principal().getName());
            } else if (store.isCertificateEntry(alias)) {
                X509Certificate cert = (X509Certificate) store.getCertificate(alias);
                System.out.println("trusted-entry " + alias + " "
                        + cert.getSubjectX500Principal().getName());
            }
        }
        return store;
    }

    public static void main(String[] args) {
        try {
            String env = System.getenv("OTELPKI_P12_PASSWORD");
            char[] password = env == null ? new char[0] : env.toCharArray();
            KeyStore keyStore = load(args[0], password);
            KeyStore trustStore = load(args[1], password);
            KeyManagerFactory kmf =
                    KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keyStore, password);
            TrustManagerFactory tmf =
                    TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trustStore);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            try (SSLSocket socket = (SSLSocket) context.getSocketFactory()
                    .createSocket(args[2], Integer.parseInt(args[3]))) {
                socket.setSoTimeout(10_000);
                SSLParameters params = socket.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                socket.setSSLParameters(params);
                socket.startHandshake();
                System.out.println("handshake " + socket.getSession().getProtocol() + " "
                        + ((X509Certificate) socket.getSession().getPeerCertificates()[0])
                                .getSubjectX500Principal().getName());
                OutputStream out = socket.getOutputStream();
                out.write("hello from java\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            System.out.println("ok");
        } catch (Exception e) {
            System.out.println("error " + e);
            System.exit(1);
        }
    }
}
